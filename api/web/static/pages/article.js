/* Article editor: Markdown with a live preview rendered by the server (the same sanitiser as
   published articles), save as a new version with a concurrency check, state changes,
   version list with side-by-side diff and restore. */
"use strict";
(() => {
  const { api, h, $, $$, dt, toast } = Zk;
  const id = $("#article-root").dataset.id;
  const flow = JSON.parse($("#flow").textContent);
  const META = ["audience", "product", "module", "problem_type", "fixed_in_version", "next_review_at"];
  let article = null;

  const preview = Zk.debounce(async () => {
    try {
      const r = await api("/api/v1/articles/preview", { method: "POST", body: { body: $("#a-body").value } });
      $("#preview").innerHTML = r.html;      // sanitised server-side (nh3)
    } catch (err) { /* readers without the editor role see the stored HTML instead */ }
  }, 300);

  function fill(a) {
    article = a;
    $("#article-heading").textContent = `${a.title}`;
    $("#a-title").value = a.title;
    $("#a-body").value = a.body;
    for (const k of META) $(`#a-${k}`).value = a[k] || "";
    $("#a-tags").value = a.tags.join(", ");
    $("#preview").innerHTML = a.body_html;
    $("#state-box").replaceChildren(h("span", {}, "状态 ", h("b", { id: "a-state" }, a.state), ` · v${a.version} · 负责人 ${Zk.name(a.owner)}`),
      ...(Zk.can(["knowledge_manager"]) ? (flow[a.state] || []).map((s) => h("button", { type: "button", class: "small", onclick: () => move(s) },
        { 审核中: "提交审核", 已发布: "发布", 已归档: "归档", 草稿: "退回草稿" }[s] || s)) : []));
    $("#links-card").hidden = !a.linked_cases.length;
    $("#linked").replaceChildren(...a.linked_cases.flatMap((n) => [h("a", { href: `/cases/${n}` }, n), " "]));
  }

  async function load() {
    fill(await api(`/api/v1/articles/${id}`));
    const versions = await api(`/api/v1/articles/${id}/versions`);
    $("#versions-card").hidden = false;
    $("#versions tbody").replaceChildren(...versions.slice().sort((a, b) => b.number - a.number).map((v) => h("tr", {},
      h("td", {}, h("input", { type: "checkbox", class: "pick", value: v.number, "aria-label": `选择版本 ${v.number}` })),
      h("td", {}, `v${v.number}`), h("td", {}, Zk.name(v.author)), h("td", {}, dt(v.created_at)), h("td", {}, v.change_note),
      h("td", {}, v.number !== article.version && Zk.can(["knowledge_manager"])
        ? h("button", { type: "button", class: "small", id: `restore-${v.number}`, onclick: () => restore(v.number) }, "恢复此版本") : h("span", { class: "muted" }, v.number === article.version ? "当前" : "")))));
    const picks = $$(".pick");
    if (picks.length >= 2) { picks[0].checked = true; picks[1].checked = true; }
  }

  async function move(state) {
    try {
      fill(await api(`/api/v1/articles/${id}/transitions`, { method: "POST", body: { state, version: article.version } }));
      toast(`状态已变为 ${state}`);
      await load();
    } catch (err) { toast(err.message, "error"); }
  }

  async function restore(number) {
    if (!confirm(`恢复到 v${number}？会生成一个新版本，历史不会丢失。`)) return;
    try {
      await api(`/api/v1/articles/${id}/versions/${number}/restore`, { method: "POST", body: { version: article.version, change_note: `恢复到 v${number}` } });
      toast(`已恢复到 v${number}`);
      await load();
    } catch (err) { toast(err.message, "error"); }
  }

  const FIELD_LABELS = { title: "标题", audience: "受众", product: "产品", module: "模块", problem_type: "问题类型",
    fixed_in_version: "解决版本", applies_to_versions: "适用版本", tags: "标签", next_review_at: "复审日期", owner: "负责人",
    state: "状态", body: "正文" };

  /* Agents and analysts read an article; only knowledge managers get the editor. */
  async function reader() {
    $("#editor-card").hidden = true;
    $("#versions-card").hidden = true;
    $("#reader").hidden = false;
    let a;
    try { a = await api(`/api/v1/articles/${id}`); } catch (err) {
      $("#reader-title").textContent = err.status === 404 ? "文章不存在，或你没有查看权限" : err.message;
      $("#article-heading").textContent = "";
      $("#reader-vote").hidden = true;
      return;
    }
    document.title = `${a.title} · 知库`;
    $("#reader-title").textContent = a.title;
    $("#reader-meta").replaceChildren(`${a.product || "通用"}${a.module ? " · " + a.module : ""} · v${a.version} · 更新于 ${dt(a.updated_at)} `,
      ...a.tags.map((t) => h("span", { class: "chip" }, t)));
    $("#reader-body").innerHTML = a.body_html;            // sanitised server-side (nh3)
    $("#links-card").hidden = !a.linked_cases.length;
    $("#linked").replaceChildren(...a.linked_cases.flatMap((n) => [h("a", { href: `/cases/${n}` }, n), " "]));
    const vote = async (helped) => {
      try {
        const r = await api(`/api/v1/articles/${id}/feedback`, { method: "POST", body: { helped } });
        $("#vote-yes").setAttribute("aria-pressed", String(helped));
        $("#vote-no").setAttribute("aria-pressed", String(!helped));
        $("#vote-state").textContent = `已记录（可以改）。有帮助 ${r.helped}，没帮助 ${r.not_helped}`;
      } catch (err) { toast(err.message, "error"); }
    };
    $("#vote-yes").addEventListener("click", () => vote(true));
    $("#vote-no").addEventListener("click", () => vote(false));
  }

  async function compare() {
    const picked = $$(".pick").filter((c) => c.checked).map((c) => Number(c.value)).sort((a, b) => a - b);
    if (picked.length !== 2) { toast("请勾选两个版本", "error"); return; }
    const d = await api(`/api/v1/articles/${id}/diff?from=${picked[0]}&to=${picked[1]}`);
    const fields = d.fields.map((f) => h("div", {}, h("b", {}, FIELD_LABELS[f.field] || f.field), "：",
      Zk.readable(f.old), " → ", Zk.readable(f.new)));
    const rows = d.rows.filter((r) => r.op !== "equal" || d.rows.length < 80).map((r) => h("tr", { class: r.op },
      h("td", { class: "ln" }, r.old_line ?? ""), h("td", { class: "old" }, r.old ?? ""), h("td", { class: "ln" }, r.new_line ?? ""), h("td", { class: "new" }, r.new ?? "")));
    $("#diff").replaceChildren(h("h3", {}, `v${d.from_version} → v${d.to_version}`), ...fields,
      d.body_changed ? h("table", { class: "diff", id: "diff-table" }, h("thead", {}, h("tr", {}, h("th", {}), h("th", {}, `v${d.from_version}`), h("th", {}), h("th", {}, `v${d.to_version}`))), h("tbody", {}, rows))
        : h("p", { class: "muted" }, "正文没有变化"));
  }

  async function save(ev) {
    ev.preventDefault();
    const form = $("#article-form");
    Zk.clearErrors(form);
    const v = Zk.formValues(form);
    const body = { title: v.title, body: $("#a-body").value, change_note: v.change_note || "",
                   tags: (v.tags || "").split(/[,，、]+/).map((t) => t.trim()).filter(Boolean) };
    for (const k of META) body[k] = v[k] || null;
    if (!body.audience) delete body.audience;
    try {
      if (!id) {
        const a = await api("/api/v1/articles", { method: "POST", body });
        location.href = `/knowledge/${a.id}`;
        return;
      }
      body.version = article.version;
      fill(await api(`/api/v1/articles/${id}`, { method: "PATCH", body }));
      $("#a-note").value = "";
      toast(`已保存为 v${article.version}`);
      await load();
    } catch (err) {
      if (err.status === 409) err.errors = [];   // someone saved first: the message says so, reload to see it
      Zk.showErrors(form, err);
    }
  }

  Zk.page(async () => {
    Zk.showByRole($$("[data-roles]", $("#article-root")));
    if (!Zk.can(["knowledge_manager"])) { await reader(); return; }
    const audiences = await api("/api/v1/audiences");
    Zk.fillSelect($("#a-audience"), audiences.map((a) => ({ code: a.code, name: a.name, active: a.active })));
    $("#a-body").addEventListener("input", preview);
    $("#article-form").addEventListener("submit", save);
    $("#compare").addEventListener("click", compare);
    if (id) await load();
    else $("#article-heading").textContent = "新建文章";
  });
})();
