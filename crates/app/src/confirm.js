// One way to confirm across the app: the page's dialog names what will happen and the action's
// button ("Delete"), with Cancel focused. Islands call cairnConfirm(text, action, answer); answer
// gets true only when the action's button was pressed (Cancel, Escape: false).
window.cairnConfirm = (text, action, answer) => {
  const dialog = document.getElementById("confirm");
  dialog.querySelector(".confirm-text").textContent = text;
  dialog.querySelector(".confirm-yes").textContent = action;
  dialog.returnValue = "";
  dialog.addEventListener("close", () => answer(dialog.returnValue === "yes"), { once: true });
  dialog.showModal();
  dialog.querySelector(".confirm-no").focus();
};
