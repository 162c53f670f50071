/**
 * The dashboard page: one HTML document with inline CSS and a small inline script that fetches
 * `/dashboard/data` and draws SVG charts. No CDN and no build step: promptq often runs where
 * nothing else is reachable. Data reaches the DOM only through `textContent`/attributes (tenant
 * and model names come from users).
 */

const css = `
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#f6f7f9;color:#1d2430}
header{display:flex;align-items:center;gap:16px;padding:12px 20px;background:#1d2430;color:#fff}
header h1{font-size:18px;margin:0}header .q{opacity:.7}header nav{margin-left:auto;display:flex;gap:6px}
header button{background:#334;color:#fff;border:1px solid #556;border-radius:4px;padding:4px 10px;cursor:pointer}
header button[aria-pressed=true]{background:#4a7bd0;border-color:#4a7bd0}
header select{background:#334;color:#fff;border:1px solid #556;border-radius:4px;padding:3px 6px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:14px;padding:14px 20px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 14px}
section h2{font-size:14px;margin:0 0 8px;color:#445}
.kpis{grid-column:1/-1;display:flex;flex-wrap:wrap;gap:24px}
.kpi b{display:block;font-size:22px}.kpi span{color:#667;font-size:12px}
svg{width:100%;height:auto;display:block}svg text{font-size:10px;fill:#667}
table{width:100%;border-collapse:collapse;font-size:12px}td,th{padding:3px 6px;text-align:right;border-bottom:1px solid #eef}
td:first-child,th:first-child{text-align:left}.wide{grid-column:1/-1}
.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.empty{color:#889;font-style:italic}#status{font-size:12px;opacity:.7}
`;

// Plain browser JS (the page's only script). Kept as a string: it runs in the browser, not Node.
// fmtUsd and fmtPct follow the rules of formatUsd and formatPercent in src/core/format.ts.
const script = `
const colors=['#4a7bd0','#d0694a','#3a9b6b','#9b59b6','#c9a227','#2aa3b8','#b83a6b','#6b7a8f'];
const NS='http://www.w3.org/2000/svg';
const CLASS={rate_limited:'429',overloaded:'529',server_error:'5xx',timeout:'timeout',network_error:'network',client_error:'4xx'};
const params=new URLSearchParams(location.search);
let range=params.get('range')||'1h';
let tenant=params.get('tenant')||'';
const $=(id)=>document.getElementById(id);
function el(tag,attrs,text){const e=document.createElementNS(NS,tag);for(const k in attrs)e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;return e}
function h(tag,text,attrs){const e=document.createElement(tag);if(text!==undefined)e.textContent=text;for(const k in attrs||{})e.setAttribute(k,attrs[k]);return e}
const fmtMs=(v)=>v==null?'–':v>=1000?(v/1000).toFixed(v>=10000?0:1)+' s':Math.round(v)+' ms';
const fmtUsd=(v)=>'$'+(v>=100?v.toFixed(0):v>=1?v.toFixed(2):v.toFixed(4));
const fmtN=(v)=>v>=1e6?(v/1e6).toFixed(2)+'M':v>=1e4?(v/1e3).toFixed(1)+'k':String(Math.round(v));
const fmtPct=(v)=>v==null?'–':(v*100).toFixed(1)+'%';
const fmtTime=(t)=>new Date(t).toISOString().slice(11,16);
function clear(id){const c=$(id);c.textContent='';return c}
function legend(box,names){const l=h('div',undefined,{class:'legend'});names.forEach((n,i)=>{const s=h('span',n);const sw=h('i');sw.style.background=colors[i%colors.length];s.prepend(sw);l.append(s)});box.append(l)}
/** Line chart: one path per series; data-points counts the drawn points (the browser test reads it). */
function lineChart(id,t,series,fmt){
  const box=clear(id);const names=Object.keys(series);
  const vals=names.flatMap((n)=>series[n].filter((v)=>v!=null));
  if(!vals.length){box.append(h('p','no data in this range',{class:'empty'}));return}
  const W=440,H=170,L=48,B=20,max=Math.max(...vals)*1.1||1;
  const svg=el('svg',{viewBox:'0 0 '+W+' '+H,'data-chart':id,role:'img'});
  const x=(i)=>L+(W-L-6)*(t.length<2?0.5:i/(t.length-1)),y=(v)=>H-B-(H-B-8)*v/max;
  for(let k=0;k<=4;k++){const v=max*k/4;svg.append(el('line',{x1:L,x2:W-6,y1:y(v),y2:y(v),stroke:'#eef'}));svg.append(el('text',{x:L-4,y:y(v)+3,'text-anchor':'end'},fmt(v)))}
  for(let k=0;k<t.length;k+=Math.max(1,Math.floor(t.length/6)))svg.append(el('text',{x:x(k),y:H-5,'text-anchor':'middle'},fmtTime(t[k])));
  names.forEach((n,si)=>{let d='',pts=0;series[n].forEach((v,i)=>{if(v==null)return;d+=(d?'L':'M')+x(i).toFixed(1)+' '+y(v).toFixed(1);pts++;
      svg.append(el('circle',{cx:x(i),cy:y(v),r:2,fill:colors[si%colors.length]}))});
    svg.append(el('path',{d,fill:'none',stroke:colors[si%colors.length],'stroke-width':2,'data-series':n,'data-points':pts}))});
  box.append(svg);legend(box,names)}
/** Horizontal bars, one group per label; data-value holds the number drawn. */
function barChart(id,rows,keys,fmt){
  const box=clear(id);
  if(!rows.length){box.append(h('p','no data in this range',{class:'empty'}));return}
  const W=440,row=18*keys.length+8,H=rows.length*row+6,L=110;
  const max=Math.max(...rows.flatMap((r)=>keys.map((k)=>r[k])))||1;
  const svg=el('svg',{viewBox:'0 0 '+W+' '+H,'data-chart':id,role:'img'});
  rows.forEach((r,ri)=>{svg.append(el('text',{x:L-6,y:ri*row+16,'text-anchor':'end'},r.label));
    keys.forEach((k,ki)=>{const w=Math.max(1,(W-L-70)*r[k]/max),yy=ri*row+4+ki*18;
      svg.append(el('rect',{x:L,y:yy,width:w.toFixed(1),height:14,fill:colors[ki%colors.length],'data-label':r.label,'data-key':k,'data-value':r[k]}));
      svg.append(el('text',{x:L+w+4,y:yy+11},fmt(r[k])))})});
  box.append(svg);if(keys.length>1)legend(box,keys)}
function table(id,head,rows){const box=clear(id);
  if(!rows.length){box.append(h('p','no data in this range',{class:'empty'}));return}
  const tb=h('table');const tr=h('tr');head.forEach((c)=>tr.append(h('th',c)));tb.append(tr);
  rows.forEach((r)=>{const tr=h('tr');r.forEach((c)=>tr.append(h('td',String(c))));tb.append(tr)});box.append(tb)}
function kpis(d){const box=clear('kpis');const p=d.projection;
  [['jobs',fmtN(d.totals.jobs)],['error rate',fmtPct(d.totals.error_rate)],['API error rate',fmtPct(d.totals.attempt_error_rate)],['retries',fmtN(d.totals.retries)],['tokens in / out',fmtN(d.totals.input_tokens)+' / '+fmtN(d.totals.output_tokens)],
   ['cost in range',fmtUsd(d.totals.cost_usd)],['month to date',fmtUsd(p.month_to_date_usd)],['projected month end',fmtUsd(p.month_end_usd)]]
  .forEach(([k,v])=>{const e=h('div',undefined,{class:'kpi','data-kpi':k});e.append(h('b',v),h('span',k));box.append(e)})}
function render(d){
  kpis(d);
  lineChart('latency',d.series.t,d.series.latency_ms,fmtMs);
  lineChart('errors',d.series.t,{'failed jobs':d.series.error_rate,'failed API attempts':d.series.attempt_error_rate},fmtPct);
  const byClass={};for(const c of Object.keys(d.series.attempt_errors))byClass[CLASS[c]||c]=d.series.attempt_errors[c].map((n,i)=>d.series.attempts[i]?n/d.series.attempts[i]:null);
  lineChart('apierrors',d.series.t,byClass,fmtPct);
  lineChart('retries',d.series.t,{attempts:d.series.attempts,retries:d.series.retries},fmtN);
  table('errorclasses',['failed API attempts','attempts','share of attempts'],
    Object.entries(d.attempt_errors).sort((a,b)=>b[1].attempts-a[1].attempts).map(([c,v])=>[CLASS[c]||c,v.attempts,fmtPct(v.rate)]));
  table('failedjobs',['failed jobs by error type','jobs'],Object.entries(d.errors).sort((a,b)=>b[1]-a[1]));
  lineChart('spend',d.series.t,{cost:d.series.cost_usd},fmtUsd);
  lineChart('throughput',d.series.t,{jobs:d.series.jobs,failed:d.series.failed,'429s':d.series.rate_limited},fmtN);
  const models=Object.entries(d.models).sort((a,b)=>b[1].jobs-a[1].jobs);
  table('models',['model','jobs','failed','p50 ≤ (bucket bound)','p95 ≤ (bucket bound)','avg','avg TTFB (network)','avg TTFT','avg wait','cost'],
    models.map(([m,f])=>[m,f.jobs,f.failed,fmtMs(f.p50_ms),fmtMs(f.p95_ms),fmtMs(f.avg_ms),fmtMs(f.avg_ttfb_ms),fmtMs(f.avg_ttft_ms),fmtMs(f.avg_queue_wait_ms),fmtUsd(f.cost_usd)]));
  table('accounts',['provider','account','API attempts','failed attempts','jobs completed','cost'],
    Object.values(d.accounts).sort((a,b)=>b.attempts-a.attempts).map((a)=>[a.provider,a.account,a.attempts,a.failed_attempts,a.completed,fmtUsd(a.cost_usd)]));
  const tenants=Object.entries(d.tenants).sort((a,b)=>b[1].cost_usd-a[1].cost_usd);
  barChart('tokens',tenants.map(([t,f])=>({label:t,input:f.input_tokens,output:f.output_tokens})),['input','output'],fmtN);
  barChart('cost',tenants.map(([t,f])=>({label:t,cost:f.cost_usd})),['cost'],fmtUsd);
  barChart('maxtokens',models.filter(([,f])=>f.max_tokens_used!=null).map(([m,f])=>({label:m,used:Math.round(f.max_tokens_used*1000)/10})),['used'],(v)=>v+'%');
  table('budgets',['tenant','today: spent / budget','share','this month: spent / budget','share'],
    d.budgets.map((b)=>[b.tenant,fmtUsd(b.spent_usd.day)+' / '+(b.daily_usd==null?'–':fmtUsd(b.daily_usd)),b.daily_usd?fmtPct(b.spent_usd.day/b.daily_usd):'–',
      fmtUsd(b.spent_usd.month)+' / '+(b.monthly_usd==null?'–':fmtUsd(b.monthly_usd)),b.monthly_usd?fmtPct(b.spent_usd.month/b.monthly_usd):'–']));
  const sel=$('tenant');const want=['',...d.tenant_names];
  if(sel.options.length!==want.length||want.some((n,i)=>sel.options[i].value!==n)){sel.textContent='';
    want.forEach((n)=>{const o=h('option',n||'all tenants',{value:n});sel.append(o)})}
  sel.value=tenant;
  const p=d.projection;
  table('projection',['','USD'],[['month to date',fmtUsd(p.month_to_date_usd)],['last 24 h (per day)',fmtUsd(p.daily_rate_usd)],['days left',p.days_left.toFixed(1)],['projected month end',fmtUsd(p.month_end_usd)]]);
  table('tenantcost',['tenant','today','projected day end','month to date','projected month end','saved by batches (range)','saved by cache (range)'],
    Object.entries(p.tenants).sort((x,y)=>y[1].month_end_usd-x[1].month_end_usd).map(([t,q])=>{const f=d.tenants[t];
      return [t,fmtUsd(q.today_usd),fmtUsd(q.day_end_usd),fmtUsd(q.month_to_date_usd),fmtUsd(q.month_end_usd),f?fmtUsd(f.batch_saving_usd):'–',f?fmtUsd(f.cache_saving_usd):'–']}));
  table('slowest',['job','model','tenant','status','total','API call','TTFT','wait','out / max tokens','attempts','finished'],
    d.slowest.map((c)=>[c.id,c.model,c.tenant,c.status,fmtMs(c.total_ms),fmtMs(c.latency_ms),fmtMs(c.ttft_ms),fmtMs(c.queue_wait_ms),c.output_tokens+' / '+c.max_tokens,c.attempts,c.finished_at.slice(11,19)]));
  $('status').textContent='updated '+new Date().toISOString().slice(11,19)+' UTC · '+d.step_seconds/60+' min steps';
  document.body.dataset.rendered=range}
async function load(){
  document.querySelectorAll('header button').forEach((b)=>b.setAttribute('aria-pressed',String(b.dataset.range===range)));
  try{const r=await fetch(location.pathname.replace(/\\/?$/,'')+'/data?range='+encodeURIComponent(range)+(tenant?'&tenant='+encodeURIComponent(tenant):''),{credentials:'same-origin'});
    const d=await r.json();if(!r.ok)throw new Error(d.error?d.error.message:r.statusText);render(d)}
  catch(e){$('status').textContent='failed to load: '+e.message}}
const query=()=>'?range='+range+(tenant?'&tenant='+encodeURIComponent(tenant):'');
document.querySelectorAll('header button').forEach((b)=>b.addEventListener('click',()=>{range=b.dataset.range;history.replaceState(null,'',query());load()}));
$('tenant').addEventListener('change',(e)=>{tenant=e.target.value;history.replaceState(null,'',query());load()});
load();setInterval(load,30000);
`;

const sections: Array<[string, string, string?]> = [
  ['latency', 'Latency per model (average of successful calls)'],
  ['errors', 'Error rate over time (failed jobs / finished jobs; failed API attempts / attempts)'],
  ['apierrors', 'API attempt errors by class (share of attempts: 429, 529, 5xx, timeout, network, 4xx)'],
  ['errorclasses', 'Failed API attempts by class (retried or not)'],
  ['failedjobs', 'Failed jobs by error type'],
  ['retries', 'API attempts and retries over time'],
  ['throughput', 'Jobs finished, failed and 429s'],
  ['spend', 'Cost over time (USD per step)'],
  ['models', 'Per model: latency (percentiles are latency bucket bounds) and cost', 'wide'],
  ['accounts', 'Which account served the calls (provider, account of the accounts file)', 'wide'],
  ['tokens', 'Tokens per tenant'],
  ['cost', 'Cost per tenant (USD)'],
  ['maxtokens', 'max_tokens actually used (output tokens / max_tokens)'],
  ['budgets', 'Tenant budgets: spend against budget (UTC day and month)'],
  ['projection', 'Month-end cost projection'],
  [
    'tenantcost',
    'Spend per tenant: today and this month, projected (UTC), and saved by Batches and cache',
    'wide',
  ],
  ['slowest', 'Slowest calls (enqueue → finish)', 'wide'],
];

/** The page. The queue name is the only server value in it, and it is escaped. */
export function dashboardHtml(queue: string): string {
  const esc = queue.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = sections
    .map(
      ([id, title, cls]) =>
        `<section${cls ? ` class="${cls}"` : ''}><h2>${title}</h2><div id="${id}"></div></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>promptq · ${esc}</title><style>${css}</style></head>
<body><header><h1>promptq</h1><span class="q">queue ${esc}</span><span id="status">loading…</span>
<nav><select id="tenant" aria-label="tenant"><option value="">all tenants</option></select><button data-range="1h">1 hour</button><button data-range="6h">6 hours</button><button data-range="24h">24 hours</button></nav></header>
<main><section class="kpis" id="kpis"></section>
${body}
</main><script>${script}</script></body></html>`;
}
