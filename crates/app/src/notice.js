// What the last page's action did ("Saved the entry."), said once at the top of the window: an
// island that reloads the page to show a change leaves it in this tab's session storage. An action
// that can be taken back also leaves the call that does it: the notice then offers Undo, which
// makes that call and loads the page again saying what it undid.
(() => {
  const said = sessionStorage.getItem("cairn-notice");
  const undo = JSON.parse(sessionStorage.getItem("cairn-undo") || "null");
  sessionStorage.removeItem("cairn-notice");
  sessionStorage.removeItem("cairn-undo");
  if (!said) return;
  const notice = document.getElementById("notice");
  const text = notice.querySelector(".notice-text");
  text.textContent = said;
  notice.hidden = false;
  const close = () => { notice.hidden = true; };
  notice.querySelector(".notice-close").addEventListener("click", close);
  let timer = setTimeout(close, undo ? 10000 : 8000);
  if (!undo) return;
  const button = notice.querySelector(".notice-undo");
  button.hidden = false;
  button.addEventListener("click", async () => {
    clearTimeout(timer);
    button.disabled = true;
    const answer = await fetch(undo.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: undo.body,
    }).catch(() => null);
    if (answer && answer.ok) {
      sessionStorage.setItem("cairn-notice", undo.done);
      location.reload();
    } else {
      button.hidden = true;
      text.textContent = "Could not undo it (" + (answer ? answer.status : "no connection") +
        "). Reload the page and try again.";
      timer = setTimeout(close, 10000);
    }
  });
})();
