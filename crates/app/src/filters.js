// A list's filters apply as soon as they change: choosing in one of a filter form's menus sends
// the form (the words of a search are sent with Enter or the Search button).
document.addEventListener("change", (ev) => {
  const menu = ev.target;
  if (menu.tagName === "SELECT" && menu.form && menu.form.matches("form.filters")) {
    menu.form.requestSubmit();
  }
});
