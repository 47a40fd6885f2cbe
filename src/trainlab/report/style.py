"""The one stylesheet of every trainlab page: light and dark themes, phone widths."""

CSS = """
:root { --bg:#ffffff; --fg:#1d2330; --muted:#5b6474; --card:#f5f7fa; --line:#d9dee6;
  --accent:#2456c8; --ok:#1b7f3b; --bad:#b3261e; --warn:#9a6700; }
@media (prefers-color-scheme: dark) {
  :root { --bg:#14171c; --fg:#e6e9ef; --muted:#9aa3b2; --card:#1d2128; --line:#323844;
    --accent:#8fb0ff; --ok:#5ccf7e; --bad:#ff8a80; --warn:#e3b341; }
  img.fig { background:#ffffff; }
}
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
main { max-width:1100px; margin:0 auto; padding:1rem 1.25rem 3rem; }
a { color:var(--accent); }
h1 { font-size:1.6rem; margin:.5rem 0; } h2 { font-size:1.25rem; margin-top:2rem;
  border-bottom:1px solid var(--line); padding-bottom:.2rem; } h3 { font-size:1.05rem; }
nav.crumbs { font-size:.9rem; color:var(--muted); }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:.6rem; font-size:.8rem;
  border:1px solid currentColor; }
.completed { color:var(--ok); } .failed { color:var(--bad); }
.running, .interrupted, .stopped { color:var(--warn); }
.reproduced { color:var(--ok); } .not_reproduced { color:var(--bad); }
.inconclusive { color:var(--warn); }
table { border-collapse:collapse; margin:.5rem 0 1rem; font-size:.9rem; display:block;
  overflow-x:auto; max-width:100%; }
th, td { border:1px solid var(--line); padding:.25rem .55rem; text-align:left;
  vertical-align:top; white-space:nowrap; }
th { background:var(--card); }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
pre { background:var(--card); padding:.75rem; overflow-x:auto; border-radius:.4rem;
  font-size:.85rem; }
code { background:var(--card); padding:0 .2rem; border-radius:.2rem; }
figure { margin:1rem 0 1.5rem; } figure img, img.fig { max-width:100%; height:auto;
  border:1px solid var(--line); border-radius:.3rem; }
figcaption { color:var(--muted); font-size:.9rem; margin-top:.3rem; }
.hint { background:var(--card); border-left:4px solid var(--accent); padding:.5rem 1rem;
  border-radius:.3rem; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(300px,1fr)); gap:1rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:.5rem;
  padding:.75rem; }
.card img { width:100%; height:170px; object-fit:contain; background:#fff;
  border-radius:.3rem; }
.card h3 { margin:.2rem 0; } .muted { color:var(--muted); font-size:.85rem; }
dl.kv { display:grid; grid-template-columns:max-content 1fr; gap:.1rem .8rem;
  font-size:.9rem; margin:.4rem 0; } dl.kv dt { color:var(--muted); }
dl.kv dd { margin:0; font-variant-numeric:tabular-nums; }
dl.kv dt[title] { cursor:help; text-decoration:underline dotted; }
.item { white-space:nowrap; }
details summary { cursor:pointer; color:var(--accent); }
@media (max-width:600px) { main { padding:.75rem; } h1 { font-size:1.3rem; } }
"""
