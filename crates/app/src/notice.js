// What the last page's action did ("Saved the entry."), said once at the top of the window: an
// island that reloads the page to show a change leaves it in this tab's session storage.
(() => {
  const said = sessionStorage.getItem("cairn-notice");
  if (!said) return;
  sessionStorage.removeItem("cairn-notice");
  const notice = document.getElementById("notice");
  notice.querySelector(".notice-text").textContent = said;
  notice.hidden = false;
  const close = () => { notice.hidden = true; };
  notice.querySelector("button").addEventListener("click", close);
  setTimeout(close, 8000);
})();
