/* Login: the sign-in dialog, signing out, and the account corner of the top bar. */
import { $, append, clear, h } from "./dom.js";
import { onSession, post, session, setSession } from "./api.js";
import { notify } from "./dialogs.js";
import { refresh } from "./store.js";

export function openLogin() {
  const dlg = $("#login-dialog");
  $("#login-error").textContent = "";
  const warn = $("#login-noadmins");
  warn.hidden = session.admins;
  warn.textContent = session.noAdmins || "";
  dlg.showModal();
  $("#login-form").username.focus();
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  $("#login-submit").disabled = true;
  try {
    const { data } = await post("/login", { username: form.username.value,
      password: form.password.value });
    if (data.ok) {
      form.password.value = "";
      $("#login-dialog").close();
      setSession({ user: data.user, csrf: data.csrf });
      notify("ok", "Signed in", data.message);
      refresh();
    } else {
      $("#login-error").textContent = data.message || "could not sign in";
    }
  } catch (err) {
    $("#login-error").textContent = `this server does not answer: ${err.message || err}`;
  } finally {
    $("#login-submit").disabled = false;
  }
});

async function logout() {
  const { data } = await post("/logout", {});
  setSession(data.csrf ? { user: null, csrf: data.csrf } : { user: null });
  notify("ok", "Signed out", "Reading stays open; sign in again to manage.");
  refresh();
}

function renderAccount() {
  const box = clear($("#account"));
  if (session.user) {
    append(box, h("span", {}, "Administrator ", h("b", { id: "whoami" }, session.user)),
      h("button", { class: "btn small", type: "button", id: "signout", onclick: logout },
        "Sign out"));
  } else {
    append(box, h("button", { class: "btn small", type: "button", id: "signin",
      onclick: openLogin }, "Sign in"));
  }
  document.body.classList.toggle("is-admin", !!session.user);
}

onSession(renderAccount);
