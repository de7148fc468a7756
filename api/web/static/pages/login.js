"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = Zk.$("#login-form");
  const error = Zk.$("#login-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    try {
      const user = await Zk.signIn(Zk.$("#key").value.trim());
      const next = new URLSearchParams(location.search).get("next");
      const home = { agent: "/workspace", knowledge_manager: "/knowledge", analyst: "/reports" }[user.role] || "/";
      location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : home;
    } catch (err) {
      error.textContent = err.status === 401 ? "密钥无效或已吊销" : err.message;
      error.hidden = false;
    }
  });
});
