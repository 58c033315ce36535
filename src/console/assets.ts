/**
 * The console's stylesheet and its one small script, shipped inside the Worker bundle (no CDN at run time,
 * issue 9 section 3). Each is served under a name carrying a hash of its content, so it can be cached for a
 * year (`immutable`) and a new deploy is picked up at once. The CSP allows scripts and styles from 'self'
 * only, so nothing here may depend on inline code or `style` attributes.
 */

/** One year: the longest `max-age` caches honour (RFC 9111 section 5.2.2.1 and common practice). */
export const ASSET_MAX_AGE_S = 31_536_000;

/** How often the run page's script asks for progress, in milliseconds: a run's step takes seconds. */
export const PROGRESS_POLL_MS = 2000;

const CSS = `
:root{--fg:#1b1f24;--muted:#57606a;--bg:#fff;--panel:#f6f8fa;--line:#d0d7de;--accent:#0b57d0;
--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--info:#0969da;--focus:#fb8c00;font-size:16px}
*{box-sizing:border-box}
body{margin:0;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--fg);color:#fff;padding:.5rem 1rem;z-index:10}
.skip:focus{left:.5rem}
header.top{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;justify-content:space-between;
padding:.75rem 1.25rem;border-bottom:1px solid var(--line);background:var(--panel)}
header.top .brand{font-weight:700;text-decoration:none;color:var(--fg)}
.who{font-size:.9rem;color:var(--muted)}
.who strong{color:var(--fg)}
.banner-local{background:#fff8c5;border-bottom:2px solid var(--warn);padding:.5rem 1.25rem;font-weight:700}
nav.main ul{list-style:none;margin:0;padding:0 1.25rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;border-bottom:1px solid var(--line)}
nav.main a{display:inline-block;padding:.5rem 0;text-decoration:none}
nav.main a[aria-current=page]{font-weight:700;border-bottom:3px solid var(--accent)}
main{padding:1rem 1.25rem;max-width:80rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--panel)}
.scroll{overflow-x:auto}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-size:.85rem;font-weight:600;border:1px solid currentColor}
.b-ok{color:var(--ok)}.b-warn{color:var(--warn)}.b-bad{color:var(--bad)}.b-info{color:var(--info)}.b-muted{color:var(--muted)}
form.inline{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end;margin:.5rem 0 1rem}
form.stack{display:grid;gap:.75rem;max-width:36rem;margin:.5rem 0 1rem}
label{display:grid;gap:.2rem;font-size:.9rem}
label.check{display:flex;gap:.5rem;align-items:center}
fieldset{border:1px solid var(--line);border-radius:.25rem;padding:.5rem .75rem;margin:0;display:grid;gap:.35rem}
input.secret{width:100%;max-width:40rem}
input,select,textarea,button{font:inherit;padding:.35rem .5rem;border:1px solid var(--line);border-radius:.25rem;max-width:100%}
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
button.danger{background:var(--bad);border-color:var(--bad)}
button.secondary{background:var(--bg);color:var(--accent)}
article.suggestion{border:1px solid var(--line);border-radius:.25rem;padding:.5rem .75rem;margin:.5rem 0}
article.suggestion h3{font-size:1rem;margin:0 0 .25rem}
form.stack button{justify-self:start}
.notice{padding:.75rem 1rem;border-left:4px solid var(--info);background:var(--panel);margin:1rem 0}
.notice.bad{border-color:var(--bad)}.notice.ok{border-color:var(--ok)}.notice.warn{border-color:var(--warn)}
.pager{display:flex;gap:1rem;margin:1rem 0}
.chips{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0 1rem}
.chips a{text-decoration:none;padding:.15rem .6rem;border:1px solid var(--line);border-radius:1rem;color:var(--fg)}
.chips a[aria-current]{background:var(--panel);border-color:var(--accent);font-weight:700}
.count{font-weight:600}
pre.schema{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--panel);padding:.5rem;font-size:.8rem;max-height:20rem;overflow:auto}
article.op{border-top:1px solid var(--line);padding-top:.5rem;margin-top:1rem}
.pre-line{white-space:pre-line}
dl.urls{margin:0}
dl.urls dt{color:var(--muted);font-size:.85rem}
dl.urls dd{margin:0 0 .3rem}
progress{width:100%;max-width:30rem;height:1.25rem}
.muted{color:var(--muted)}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88em;overflow-wrap:anywhere}
footer{padding:1rem 1.25rem;color:var(--muted);font-size:.85rem;border-top:1px solid var(--line)}
@media (max-width:40rem){
main{padding:.75rem}
header.top,nav.main ul{padding-left:.75rem;padding-right:.75rem}
dl.facts{grid-template-columns:1fr}
dl.facts dd{margin-bottom:.4rem}
table.cards thead{position:absolute;left:-999px}
table.cards tr{display:block;border:1px solid var(--line);margin-bottom:.5rem}
table.cards td{display:grid;grid-template-columns:8rem 1fr;border:0}
table.cards td::before{content:attr(data-label);color:var(--muted)}
}
@media print{
header.top,nav.main,.skip,.noprint,footer form{display:none}
body{font-size:11pt}
main{max-width:none;padding:0}
a{color:inherit;text-decoration:none}
table{font-size:9pt}
tr{break-inside:avoid}
.banner-local{display:block}
}
`;

/**
 * Follows runs in flight: every element with `data-progress-url` (the run page's one, or one per row of a
 * list) asks for its run's counts every few seconds and updates its `<progress>` and `[data-progress-text]`.
 * When a run is over, or watching (its main actions done; the watch's checks are hours apart), an element
 * marked `data-reload` reloads the page (the run page then shows the result); any other just says the status. No inline script: the CSP allows 'self' only.
 */
const JS = `(function(){
function follow(el){
var url=el.getAttribute("data-progress-url");var bar=el.querySelector("progress");var text=el.querySelector("[data-progress-text]");
function tick(){fetch(url,{credentials:"same-origin",headers:{accept:"application/json"}}).then(function(r){if(!r.ok)throw new Error(String(r.status));return r.json()}).then(function(p){
if(bar){bar.max=Math.max(1,p.planned);bar.value=p.done}
if(text){text.textContent=p.done+" of "+p.planned+" handled ("+p.status+")"}
if(p.terminal||p.status==="watching"){if(el.hasAttribute("data-reload"))location.reload();return}
setTimeout(tick,${PROGRESS_POLL_MS})}).catch(function(){setTimeout(tick,${PROGRESS_POLL_MS * 5})})}
setTimeout(tick,${PROGRESS_POLL_MS})}
var els=document.querySelectorAll("[data-progress-url]");for(var i=0;i<els.length;i++)follow(els[i]);
})();
`;

/** The tab icon (a browser asks for one on every page; without it the console logs a 404). */
const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b57d0"/><path d="M4 8.5l2.5 2.5L12 5.5" stroke="#fff" stroke-width="2" fill="none"/></svg>`;

/** FNV-1a (32 bit) of a string, hex: a cache-busting content tag, not a security hash. */
function contentTag(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

export interface Asset {
  /** The path under /console the page links to. */
  path: string;
  body: string;
  type: string;
}

export const STYLESHEET: Asset = {
  path: `/console/assets/console.${contentTag(CSS)}.css`,
  body: CSS,
  type: "text/css; charset=utf-8",
};
export const SCRIPT: Asset = {
  path: `/console/assets/console.${contentTag(JS)}.js`,
  body: JS,
  type: "text/javascript; charset=utf-8",
};

export const ICON: Asset = {
  path: `/console/assets/icon.${contentTag(ICON_SVG)}.svg`,
  body: ICON_SVG,
  type: "image/svg+xml",
};

/** The assets by path, for the route that serves them. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([STYLESHEET, SCRIPT, ICON].map((a) => [a.path, a]));
