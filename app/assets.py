"""The page script and style sheet of the Blocks app (app/ui.py passes them to launch)."""

# Clicking an [n] marker (a link to #src-<turn>-<n>) shows that answer's sources and marks the passage.
JS = """
() => {
  if (window.__ragCites) return;
  window.__ragCites = true;
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest ? ev.target.closest('a[href^="#src-"]') : null;
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    const card = document.getElementById(a.getAttribute('href').slice(1));
    if (!card) return;
    const turn = card.closest('section.turn');
    document.querySelectorAll('.rag-sources section.turn').forEach((s) => s.classList.toggle('current', s === turn));
    document.querySelectorAll('.rag-sources .passage.active').forEach((p) => p.classList.remove('active'));
    card.classList.add('active');
    card.scrollIntoView({block: 'nearest', behavior: 'smooth'});
    // a PDF passage: its page opens in the page view (the server renders it with the quote marked)
    const m = card.id.match(/^src-(\d+)-(\d+)$/);
    const box = document.querySelector('#cite-click textarea, #cite-click input');
    if (m && box && card.dataset.page) {
      box.value = m[1] + ':' + m[2] + '@' + Date.now();  // a new value on every click, so each one counts
      box.dispatchEvent(new Event('input', {bubbles: true}));
    }
  }, true);
  // Gradio titles a toast with its kind in English ("Warning"); in the Chinese interface, ours instead
  const TITLES = {Warning: '提示', Error: '错误', Info: '信息', Success: '完成'};
  const zh = () => [...document.querySelectorAll('#lang input:checked')].some(
    (i) => i.value === 'zh' || ((i.closest('label') || {}).innerText || '').includes('中文'));
  new MutationObserver(() => {
    if (!zh()) return;
    document.querySelectorAll('.toast-title-row span').forEach((span) => {
      for (const node of span.childNodes) {
        const word = node.nodeType === 3 ? node.nodeValue.trim() : '';
        if (TITLES[word]) node.nodeValue = TITLES[word] + ' ';
      }
    });
  }).observe(document.body, {childList: true, subtree: true});
}
"""

CSS = """
.rag-sources section.turn { display: none; }
.rag-sources section.turn.current { display: block; }
.rag-sources .turn-head { font-weight: 600; margin-bottom: 4px; }
.rag-sources .turn-note { margin: 6px 0; }
.rag-sources .abstain { color: #b45309; font-weight: 600; }
.rag-sources .passage { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
  margin: 8px 0; background: var(--block-background-fill); }
.rag-sources .passage.active { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.rag-sources .p-num { color: var(--color-accent); font-weight: 700; margin-right: 4px; }
.rag-sources .p-title { font-weight: 600; }
.rag-sources .p-meta, .rag-sources .p-scores { font-size: 0.85em; color: var(--body-text-color-subdued); }
.rag-sources .p-text { margin-top: 4px; line-height: 1.65; }
.rag-sources mark.quote { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.rag-sources .empty { color: var(--body-text-color-subdued); padding: 8px; }
.rag-sources table { font-size: 0.8em; }
#chat a.cite { text-decoration: none; font-weight: 700; font-size: 0.8em; vertical-align: super; padding: 0 3px;
  border-radius: 4px; background: var(--color-accent-soft); cursor: pointer; }
#chat .abstain { color: #b45309; font-weight: 700; }
#chat .searched { font-size: 0.8em; color: var(--body-text-color-subdued); }
#chat .rag-error { color: #b91c1c; }
#cite-click { display: none !important; }
"""

CSS += """
#review-matrix { border-collapse: collapse; font-size: 0.9em; width: 100%; }
#review-matrix th, #review-matrix td { border: 1px solid var(--border-color-primary); padding: 6px 8px; vertical-align: top; }
#review-matrix td.cell ol { margin: 0; padding-left: 1.2em; }
#review-matrix .where, #review-matrix .near { font-size: 0.85em; color: var(--body-text-color-subdued); }
#review-matrix .nd { color: #b45309; font-weight: 600; }
"""
