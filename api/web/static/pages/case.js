/* Case detail: every field, SLA with its explanation, history, and the agent's actions
   (transition, first response, resolve, feedback); knowledge managers draft an article. */
"use strict";
(() => {
  const { api, h, $, dt, toast } = Zk;
  const number = $("#case-root").dataset.number;
  const transitions = JSON.parse($("#transitions").textContent);
  const path = `/api/v1/cases/${encodeURIComponent(number)}`;

  const FIELDS = [
    ["沟通时间", (c) => dt(c.contact_at)], ["沟通渠道", "channel"], ["客户", (c) => `${c.customer_name}（${c.customer_kind}${c.industry ? "，" + c.industry : ""}）`],
    ["客户ID", "customer_id"], ["联系方式", "contact_masked"], ["客户需求描述", "description"], ["订单号", "order_number"],
    ["产品", (c) => [c.product, c.module, c.product_version].filter(Boolean).join(" ")], ["客户情绪", "emotion"],
    ["负责人/组", (c) => `${Zk.name(c.owner)} / ${c.group || "—"}`], ["问题分析过程", "analysis"], ["根本原因", "root_cause"],
    ["临时方案", "solution_temp"], ["永久方案", "solution_perm"], ["处理结果", "result"], ["修复版本", "fixed_in_version"],
    ["解决时间", (c) => c.resolved_at && dt(c.resolved_at)], ["满意度", (c) => [c.satisfaction, c.nps_score !== null ? `NPS ${c.nps_score}` : null].filter(Boolean).join("，")],
    ["客户反馈", "feedback"], ["标签", (c) => c.tags.join("、")], ["备注", "notes"], ["重开次数", (c) => c.reopen_count || null],
  ];

  const WORK_FIELDS = ["type", "priority", "group", "owner", "product", "module", "product_version", "tags", "notes"];
  let current = null;

  function fillWork(c) {
    for (const f of WORK_FIELDS) {
      const el = $(`#w-${f}`);
      const value = f === "tags" ? c.tags.join("，") : (c[f] ?? "");
      // a deactivated owner or label is still the case's value: keep it selectable, never blank it
      if (el.tagName === "SELECT" && value && !Array.from(el.options).some((o) => o.value === value)) {
        el.append(h("option", { value }, f === "owner" ? Zk.name(value) : value));
      }
      el.value = value;
    }
    const open = !["已关闭"].includes(c.status);
    Zk.$$("#work-form input, #work-form select, #work-form button, #assign-me").forEach((el) => { el.disabled = !open; });
    $("#assign-me").hidden = c.owner === (Zk.user() || {}).username;
  }

  /* Only what the agent changed goes to the API: history then records exactly those fields. */
  function workChanges() {
    const out = {};
    for (const f of WORK_FIELDS) {
      const raw = $(`#w-${f}`).value.trim();
      if (f === "tags") {
        const tags = raw.split(/[,，、\s]+/).filter(Boolean);
        if (tags.join("\u0001") !== current.tags.join("\u0001")) out.tags = tags;
        continue;
      }
      const before = current[f] ?? "";
      if (raw !== before) out[f] = raw === "" ? null : raw;
    }
    return out;
  }

  async function saveWork(ev) {
    ev.preventDefault();
    const form = $("#work-form");
    Zk.clearErrors(form);
    const changes = workChanges();
    if (!Object.keys(changes).length) { toast("没有修改"); return; }
    $("#work-save").disabled = true;
    try {
      await api(path, { method: "PATCH", body: changes });
      toast(changes.priority ? "已保存，时限已按新优先级重算" : "已保存");
      await reload();
    } catch (err) { Zk.showErrors(form, err); } finally { $("#work-save").disabled = false; }
  }

  function show(c) {
    current = c;
    fillWork(c);
    $("#case-title").replaceChildren(`${c.number} ${c.subject}`);
    $("#case-meta").replaceChildren(h("span", { class: `badge ${c.priority}` }, c.priority), ` ${c.type} · `,
      h("b", { id: "case-status" }, c.status), c.overdue ? h("span", { class: "chip", style: "color:#c62828" }, "超期") : "",
      ` · 登记人 ${Zk.name(c.created_by)}`);
    const rows = [];
    for (const [label, get] of FIELDS) {
      const v = typeof get === "function" ? get(c) : c[get];
      if (v === null || v === undefined || v === "") continue;
      rows.push(h("dt", {}, label), h("dd", {}, String(v)));
    }
    $("#case-fields").replaceChildren(...rows);
    const exp = c.sla_explanation || {};
    $("#case-sla").replaceChildren(
      h("dt", {}, "接收时间"), h("dd", {}, dt(c.received_at)),
      h("dt", {}, "首次响应"), h("dd", {}, c.first_response_at ? dt(c.first_response_at) : "尚未响应"),
      h("dt", {}, "响应时限"), h("dd", {}, dt(c.response_due_at), h("div", { class: "muted" }, exp.response ? exp.response.text : "")),
      h("dt", {}, "解决时限"), h("dd", {}, dt(c.resolution_due_at), h("div", { class: "muted" }, exp.resolution ? exp.resolution.text : "无")),
      ...(exp.resolved_source ? [h("dt", {}, "说明"), h("dd", { class: "muted" }, exp.resolved_source)] : []));
    const next = transitions[c.status] || [];
    Zk.fillSelect($("#next-status"), next.map((s) => ({ code: s, name: s === "处理中" && c.status === "已解决" ? "处理中（重开）" : s })));
    $("#transition-form button[type=submit]").disabled = !next.length;
    $("#resolve-card").hidden = $("#resolve-card").hidden || !["待处理", "处理中", "升级处理"].includes(c.status);
    $("#feedback-card").hidden = $("#feedback-card").hidden || !["已解决", "已关闭"].includes(c.status);
    $("#publish-card").hidden = $("#publish-card").hidden || !["已解决", "已关闭"].includes(c.status);
    $("#first-response").hidden = !!c.first_response_at;
  }

  const ACTIONS = { created: "登记", updated: "修改", status: "状态变更", reopened: "重开", resolved: "解决",
                    feedback: "回访", imported: "导入", sla: "SLA 重算" };
  const FIELD_NAMES = { status: "处理状态", priority: "优先级", type: "需求类型", owner: "负责人", group: "处理组",
    channel: "沟通渠道", subject: "沟通事由", description: "客户需求描述", analysis: "问题分析过程", root_cause: "根本原因",
    solution_temp: "临时方案", solution_perm: "永久方案", result: "处理结果", fixed_in_version: "修复版本",
    resolved_at: "解决时间", closed_at: "关闭时间", first_response_at: "首次响应", satisfaction: "满意度",
    satisfaction_score: "评分", nps_score: "NPS", feedback: "客户反馈", reopen_count: "重开次数", notes: "备注",
    tags: "标签", response_due_at: "响应时限", contact_masked: "联系方式", product: "产品", module: "模块" };

  async function loadHistory() {
    const items = await api(`${path}/history`);
    $("#history tbody").replaceChildren(...items.map((x) => h("tr", {},
      h("td", { style: "white-space:nowrap" }, dt(x.at)), h("td", {}, Zk.name(x.actor)), h("td", {}, ACTIONS[x.action] || x.action),
      h("td", {}, x.field ? FIELD_NAMES[x.field] || x.field : ""),
      h("td", {}, x.field ? `${Zk.readable(x.old_value)} → ${Zk.readable(x.new_value)}` : ""), h("td", {}, x.note || ""))));
  }

  const OPEN = ["待处理", "处理中", "升级处理"];

  /* The resolve form starts from the draft saved while logging (用这个方案 in the workspace). */
  function prefillResolve(c) {
    const form = $("#resolve-form");
    for (const f of ["solution_temp", "solution_perm", "analysis", "root_cause"]) {
      const el = form.elements[f];
      if (el && !el.value && c[f]) el.value = c[f];
    }
  }

  async function loadUsed() {
    const uses = await api(`${path}/solution-uses`);
    $("#case-used").replaceChildren(...(uses.length ? [h("p", { class: "muted" }, "已采用：",
      ...uses.map((u) => h("span", { class: "chip accent" }, u.case ? h("a", { href: `/cases/${u.case}` }, u.case) : h("a", { href: `/knowledge/${u.article}` }, `文章 #${u.article}`),
        u.rank ? `（建议第 ${u.rank} 位）` : "")))] : []));
    return new Set(uses.map((u) => (u.case ? Zk.sourceKey("case", { number: u.case }) : Zk.sourceKey("article", { id: u.article }))));
  }

  async function useSolution(button, kind, item, rank, suggestionId) {
    const form = $("#resolve-form");
    const source = kind === "case" ? item : await api(`/api/v1/articles/${item.id}`);
    const sol = Zk.solutionOf(kind, source);
    try {
      await api(`${path}/solution-uses`, { method: "POST", body: {
        ...(kind === "case" ? { case: item.number } : { article: item.id }), rank, suggestion_id: suggestionId } });
    } catch (err) { toast(err.message, "error"); return; }
    for (const [f, text] of [["solution_temp", sol.temp], ["solution_perm", sol.perm]]) {
      if (text) Zk.appendText(form.elements[f], text);
    }
    if (kind === "case" && item.root_cause && !form.elements.root_cause.value) form.elements.root_cause.value = item.root_cause;
    button.setAttribute("aria-pressed", "true");
    button.textContent = "已采用";
    toast("已复制到解决表单，并记录采用");
    await loadUsed();
  }

  async function loadSuggestions(c) {
    const card = $("#suggest-card");
    if (!Zk.can(["agent"]) || !OPEN.includes(c.status)) { card.hidden = true; return; }
    card.hidden = false;
    const [s, taken] = await Promise.all([
      api("/api/v1/suggestions", { method: "POST", body: { subject: c.subject, description: c.description, product: c.product || null } }),
      loadUsed()]);
    const button = (kind, item, rank) => {
      const key = Zk.sourceKey(kind, item);
      return h("button", { type: "button", class: "small use-solution", "aria-pressed": String(taken.has(key)), dataset: { source: key },
                           onclick: (ev) => useSolution(ev.currentTarget, kind, item, rank, s.suggestion_id) },
        taken.has(key) ? "已采用" : "用这个方案");
    };
    const similar = s.similar_cases.filter((x) => x.number !== c.number).map((x) => h("div", { class: "hit" },
      h("div", {}, h("a", { href: `/cases/${x.number}`, class: "title" }, x.number), " ", h("span", { html: x.highlights.subject || "" }),
        x.satisfaction ? h("span", { class: "chip" }, x.satisfaction) : null),
      x.solution_temp ? h("div", { class: "solution" }, h("b", {}, "临时方案："), x.solution_temp) : null,
      x.solution_perm ? h("div", { class: "solution" }, h("b", {}, "永久方案："), x.solution_perm) : null,
      h("div", {}, button("case", x, s.similar_cases.indexOf(x) + 1))));
    $("#case-similar").replaceChildren(...(similar.length ? similar : [h("p", { class: "muted" }, "没有相似的已解决问题")]));
    const articles = s.articles.map((a, i) => h("div", { class: "hit" },
      h("a", { href: `/knowledge/${a.id}`, class: "title", html: a.highlights.title || "" }),
      a.highlights.body ? h("div", { class: "muted", html: a.highlights.body }) : null,
      h("div", {}, button("article", a, i + 1))));
    $("#case-articles").replaceChildren(...(articles.length ? articles : [h("p", { class: "muted" }, "没有匹配的文章")]));
  }

  async function reload() {
    Zk.showByRole(Zk.$$("[data-roles]", $("#case-root")));
    const c = await api(path);
    show(c);
    prefillResolve(c);
    await loadHistory();
    loadSuggestions(c).catch((err) => { $("#case-similar").replaceChildren(h("p", { class: "muted" }, `建议暂不可用：${err.message}`)); });
  }

  function bind(formId, url, build) {
    const form = $(formId);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      Zk.clearErrors(form.closest(".card"));
      try {
        await api(url, { method: "POST", body: build(Zk.formValues(form)) });
        form.reset();
        toast("已保存");
        await reload();
      } catch (err) { Zk.showErrors(form, err, form.closest(".card").querySelector(".form-error")); }
    });
  }

  async function init() {
    const tax = await Zk.taxonomy();
    Zk.fillSelect($("#w-type"), tax.type || []);
    Zk.fillSelect($("#w-priority"), tax.priority || []);
    Zk.fillSelect($("#w-group"), tax.group || [], { empty: "—" });
    const staff = (await Zk.people()).filter((p) => p.active && (p.role === "agent" || p.role === "admin"));
    Zk.fillSelect($("#w-owner"), staff.map((p) => ({ code: p.username, name: `${p.display_name}${p.group_code ? "（" + p.group_code + "）" : ""}` })),
      { empty: "未分派" });
    $("#work-form").addEventListener("submit", saveWork);
    $("#assign-me").addEventListener("click", async () => {
      try {
        await api(path, { method: "PATCH", body: { owner: Zk.user().username } });
        toast("已分派给我");
        await reload();
      } catch (err) { Zk.showErrors($("#work-form"), err); }
    });
    bind("#transition-form", `${path}/transitions`, (v) => v);
    bind("#resolve-form", `${path}/resolve`, (v) => v);
    bind("#feedback-form", `${path}/feedback`, (v) => ({ ...v, nps_score: v.nps_score !== undefined ? Number(v.nps_score) : undefined, reopen: v.reopen === "true" }));
    $("#first-response").addEventListener("click", async () => {
      await api(path, { method: "PATCH", body: { first_response: true } });
      toast("已记录首次响应");
      await reload();
    });
    $("#to-article").addEventListener("click", async () => {
      try {
        const a = await api("/api/v1/articles/from-case", { method: "POST", body: { case_number: number } });
        location.href = `/knowledge/${a.id}`;
      } catch (err) { toast(err.message, "error"); }
    });
    try { await reload(); } catch (err) {
      $("#case-title").textContent = err.status === 404 ? `问题 ${number} 不存在` : err.message;
      // nothing to act on: no transition, resolve, feedback or article card for a case that is not there
      Zk.$$("aside .card", $("#case-root")).forEach((card) => { card.hidden = true; });
      $("#case-root").classList.add("missing");
    }
  }

  Zk.page(init);
})();
