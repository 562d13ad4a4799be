// Keyboard shortcuts on every page, working before (and without) any bundle: "/" focuses the top
// bar's search, "?" opens the list of shortcuts, "g" then a letter goes to a page. Keys typed into
// a field are the field's.
(() => {
  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  const pages = { p: "/projects", t: "/team", a: "/ai", w: "/workflows", s: "/search" };
  let go = 0;
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    if (ev.key === "/") {
      const search = document.getElementById("top-search") || document.getElementById("search-text");
      if (search) {
        ev.preventDefault();
        search.focus();
        search.select();
      }
    } else if (ev.key === "?") {
      const list = document.getElementById("shortcuts");
      if (list && !list.open) {
        ev.preventDefault();
        list.showModal();
      }
    } else if (ev.key === "g") {
      go = Date.now();
    } else if (Date.now() - go < 1500 && pages[ev.key]) {
      go = 0;
      ev.preventDefault();
      location.assign(pages[ev.key]);
    }
  });
})();
