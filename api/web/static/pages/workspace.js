/* Agent workspace: log a case while proposals, similar resolved cases and articles update
   beside the form (debounced); one click accepts a proposal or opens a hit; saving shows the
   number and the SLA due times with their explanation. */
"use strict";
(() => {
  const { api, h, $, dt, pct, toast } = Zk;
  let lastSuggestion = null;
  const used = new Map();             // source key → the use sent with the save (suggestion id and rank as shown)
  let seq = 0;
  const touched = new Set();          // selects the agent chose by hand are never overwritten

  function localNow() {
    const d = new Date();
    d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
    return d.toISOString().slice(0, 16);
  }

  /* Bound as soon as the script runs, not after the page's first requests (the staff list, the
     taxonomy): an agent who starts typing, or presses Enter, while those load is neither ignored
     nor sent off as a plain form GET with the contact in the URL. */
  function bind() {
    for (const id of ["type", "priority"]) $(`#${id}`).addEventListener("change", () => { touched.add(id); markAccepted(); });
    const ask = Zk.debounce(suggest, 400);
    for (const id of ["subject", "description", "product", "emotion", "customer_kind"]) {
      const el = $(`#${id}`);
      if (el.tagName === "SELECT") { el.addEventListener("change", ask); continue; }
      // while the IME composes (pinyin 'fapiao' before it becomes 发票) there is nothing to ask about
      el.addEventListener("input", (ev) => { if (!ev.isComposing) ask(); });
      el.addEventListener("compositionend", ask);
    }
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !$("#drawer").hidden) closeDrawer();
    });
    const lookup = Zk.debounce(customerHistory, 500);
    for (const id of ["contact", "customer_id"]) $(`#${id}`).addEventListener("input", lookup);
    $("#case-form").addEventListener("submit", save);
    $("#case-form").addEventListener("reset", () => setTimeout(resetAll, 0));
  }

  async function init() {
    const tax = await Zk.taxonomy();
    Zk.fillSelect($("#channel"), tax.channel || []);
    Zk.fillSelect($("#emotion"), tax.emotion || [], { empty: "—" });
    Zk.fillSelect($("#type"), tax.type || [], { empty: "请选择" });
    Zk.fillSelect($("#priority"), tax.priority || [], { empty: "请选择" });
    $("#contact_at").value = localNow();
  }

  /* The customer's earlier cases, by contact (matched on the server's keyed hash, the number is
     never stored) or customer id — so the agent sees "third call about this" before typing. */
  let historySeq = 0;
  async function customerHistory() {
    const contact = $("#contact").value.trim();
    const customerId = $("#customer_id").value.trim();
    const box = $("#customer-history");
    const mine = ++historySeq;
    if (contact.replace(/\D/g, "").length < 7 && !contact.includes("@") && !customerId) { box.hidden = true; return; }
    try {
      const r = await api("/api/v1/customers/history", { method: "POST",
        body: { contact: contact || null, customer_id: customerId || null } });
      if (mine !== historySeq) return;
      box.hidden = !r.total;
      $("#history-count").textContent = r.total > r.items.length ? `最近 ${r.items.length} 条，共 ${r.total} 条` : `${r.total} 条`;
      $("tbody", box).replaceChildren(...r.items.map((c) => h("tr", {},
        h("td", {}, h("a", { href: `/cases/${c.number}`, onclick: (ev) => { ev.preventDefault(); openCase(c.number); } }, c.number)),
        h("td", {}, c.subject), h("td", {}, c.type), h("td", {}, h("span", { class: "chip" }, c.status)), h("td", {}, dt(c.updated_at)))));
    } catch (err) {
      if (mine === historySeq) box.hidden = true;      // history is a help, never a blocker while logging
    }
  }

  function draft() {
    const subject = $("#subject").value.trim();
    const description = $("#description").value.trim();
    return { subject, description: description || subject, emotion: $("#emotion").value || null,
             customer_kind: $("#customer_kind").value || null, product: $("#product").value.trim() || null };
  }

  async function suggest() {
    const d = draft();
    if ((d.subject + d.description).replace(/\s/g, "").length < 4) return;
    const mine = ++seq;
    $("#suggest-state").textContent = "正在分析…";
    try {
      const s = await api("/api/v1/suggestions", { method: "POST", body: d });
      if (mine !== seq) return;          // an older answer arriving late
      lastSuggestion = s;
      render(s);
      $("#suggest-state").textContent = s.missing.length ? `部分不可用：${s.missing.join("、")}` : `模型 ${s.model_version || "规则"}`;
    } catch (err) {
      if (mine === seq) $("#suggest-state").textContent = `建议暂不可用：${err.message}`;
    }
  }

  function proposal(head, name, s) {
    const p = s[head];
    if (!p || !p.label) return null;
    const conf = p.confidence;
    const others = p.alternatives.filter((a) => a.label !== p.label);
    const box = h("div", { class: "proposal", id: `proposal-${head}`, dataset: { label: p.label } },
      h("div", {},
        h("span", { class: "muted" }, `建议${name}：`), h("span", { class: "label" }, p.label),
        conf !== null ? h("span", { class: "conf", title: pct(conf, 1) }, h("i", { style: `width:${Math.round(conf * 100)}%` })) : null,
        conf !== null ? h("span", { class: "muted", title: "模型认为是这一项的可能性" }, ` 可能性 ${pct(conf)}`) : h("span", { class: "muted" }, " 按关键词规则"),
        p.abstain ? h("span", { class: "chip", title: "这一项在历史问题上误判较多，达到它的自动填写线需要更高的可能性" },
          "未自动填写，请确认") : null,
        h("button", { type: "button", class: "small primary", style: "float:right", id: `accept-${head}`,
                      onclick: () => accept(head, p.label) }, "采纳")),
      p.drivers.length ? h("div", { class: "muted" }, "依据：", p.drivers.slice(0, 6).map((d) => h("span", { class: "chip accent", title: `权重 ${d.weight}` }, d.term))) : null,
      others.length ? h("div", { class: "muted alternatives" }, "其他：",
        others.slice(0, 3).map((a) => h("button", { type: "button", class: "small", onclick: () => accept(head, a.label) },
          `${a.label} ${pct(a.confidence)}`))) : null,
      (p.rules_fired || []).length ? h("div", { class: "muted" }, "规则：", p.rules_fired.map((r) => r.detail || r.rule).join("；")) : null);
    if (p.auto_apply && !touched.has(head) && !$(`#${head}`).value) {
      $(`#${head}`).value = p.label;
    }
    return box;
  }

  function accept(head, label) {
    $(`#${head}`).value = label;
    touched.add(head);
    markAccepted();
    toast(`已采纳${head === "type" ? "类型" : "优先级"}：${label}`);
  }

  function markAccepted() {
    for (const head of ["type", "priority"]) {
      const box = $(`#proposal-${head}`);
      if (box) box.classList.toggle("accepted", $(`#${head}`).value === box.dataset.label);
    }
  }

  function render(s) {
    $("#proposals").replaceChildren(...[proposal("type", "类型", s), proposal("priority", "优先级", s)].filter(Boolean));
    markAccepted();
    const similar = s.similar_cases.map((c, i) => h("div", { class: "hit" },
      h("div", {}, h("a", { href: `/cases/${c.number}`, class: "title", onclick: (ev) => { ev.preventDefault(); openCase(c.number); } },
        c.number), " ", h("span", { html: c.highlights.subject || "" }), " ",
        h("span", { class: "chip" }, c.type), c.satisfaction ? h("span", { class: "chip" }, c.satisfaction) : null),
      c.highlights.description ? h("div", { class: "muted", html: c.highlights.description }) : null,
      c.solution_temp ? h("div", { class: "solution" }, h("b", {}, "临时方案："), c.solution_temp) : null,
      c.solution_perm ? h("div", { class: "solution" }, h("b", {}, "永久方案："), c.solution_perm) : null,
      h("div", { class: "muted" }, c.root_cause ? `根因：${c.root_cause}　` : "", c.fixed_in_version ? `修复版本：${c.fixed_in_version}` : "",
        h("button", { type: "button", class: "small", onclick: () => openCase(c.number) }, "查看"), " ",
        useButton("case", c, i + 1, s.suggestion_id))));
    $("#similar").replaceChildren(...(similar.length ? similar : [h("p", { class: "muted" }, "没有相似的已解决问题")]));
    const articles = s.articles.map((a, i) => h("div", { class: "hit" },
      h("a", { href: `/knowledge/${a.id}`, class: "title", onclick: (ev) => { ev.preventDefault(); openArticle(a.id); }, html: a.highlights.title || "" }),
      " ", a.helpful_ratio !== null ? h("span", { class: "chip" }, `有帮助 ${pct(a.helpful_ratio)}`) : null,
      a.highlights.body ? h("div", { class: "muted", html: a.highlights.body }) : null,
      h("div", {}, useButton("article", a, i + 1, s.suggestion_id))));
    $("#articles").replaceChildren(...(articles.length ? articles : [h("p", { class: "muted" }, "没有匹配的文章")]));
  }

  /* 用这个方案: copy the solution into the draft and remember the use (sent with the save,
     with the suggestion that showed it and its rank there). */
  function useButton(kind, item, rank, suggestionId) {
    const key = Zk.sourceKey(kind, item);
    const taken = used.has(key);
    return h("button", { type: "button", class: "small use-solution", "aria-pressed": String(taken), dataset: { source: key },
                         title: "把方案复制到解决方案草稿，并记下用的是哪一条建议",
                         onclick: (ev) => useSolution(ev.currentTarget, kind, item, rank, suggestionId) }, taken ? "已采用" : "用这个方案");
  }

  async function useSolution(button, kind, item, rank, suggestionId) {
    const key = Zk.sourceKey(kind, item);
    if (used.has(key)) return;
    const source = kind === "case" ? item : await api(`/api/v1/articles/${item.id}`);
    const sol = Zk.solutionOf(kind, source);
    const text = [sol.temp, sol.perm ? `永久方案：${sol.perm}` : ""].filter(Boolean).join("\n");
    Zk.appendText($("#solution_temp"), text);
    used.set(key, { ...(kind === "case" ? { case: item.number } : { article: item.id }), rank, suggestion_id: suggestionId });
    button.setAttribute("aria-pressed", "true");
    button.textContent = "已采用";
    const note = $("#used-note");
    note.textContent = `保存时记录采用的方案：${[...used.keys()].map((k) => k.replace(/^case:/, "").replace(/^article:/, "文章 #")).join("、")}`;
    note.hidden = false;
    toast("已把方案复制到解决方案草稿");
  }

  let drawerOpener = null;
  function drawer(...children) {
    const d = $("#drawer");
    drawerOpener = document.activeElement;
    d.replaceChildren(h("button", { type: "button", class: "close", onclick: closeDrawer }, "关闭 ✕"), ...children);
    d.hidden = false;
    $(".close", d).focus();
  }

  function closeDrawer() {
    $("#drawer").hidden = true;
    if (drawerOpener && drawerOpener.isConnected) drawerOpener.focus();   // back where the agent was
  }

  async function openCase(number) {
    const c = await api(`/api/v1/cases/${encodeURIComponent(number)}`);
    const row = (k, v) => (v ? [h("dt", {}, k), h("dd", {}, v)] : []);
    drawer(h("h2", {}, `${c.number} ${c.subject}`),
      h("dl", { class: "fields" }, row("状态", c.status), row("类型/优先级", `${c.type} / ${c.priority}`),
        row("产品", [c.product, c.module, c.product_version].filter(Boolean).join(" ")), row("客户需求描述", c.description),
        row("问题分析", c.analysis), row("根本原因", c.root_cause), row("临时方案", c.solution_temp), row("永久方案", c.solution_perm),
        row("处理结果", c.result), row("修复版本", c.fixed_in_version), row("满意度", c.satisfaction), row("客户反馈", c.feedback)),
      h("p", {}, h("a", { href: `/cases/${c.number}` }, "打开问题详情 →")));
  }

  async function openArticle(id) {
    const a = await api(`/api/v1/articles/${id}`);
    const fb = async (helped) => {
      await api(`/api/v1/articles/${id}/feedback`, { method: "POST", body: { helped, suggestion_id: lastSuggestion && lastSuggestion.suggestion_id } });
      $("#drawer-yes").setAttribute("aria-pressed", String(helped));      // one vote per article; clicking again changes it
      $("#drawer-no").setAttribute("aria-pressed", String(!helped));
      toast("谢谢反馈");
    };
    drawer(h("h2", {}, a.title), h("div", { class: "muted" }, `${a.audience} · v${a.version} · ${a.tags.join("、")}`),
      h("div", { class: "preview", html: a.body_html }),
      h("div", { class: "actions" }, h("button", { type: "button", id: "drawer-yes", "aria-pressed": "false", onclick: () => fb(true) }, "有帮助"),
        h("button", { type: "button", id: "drawer-no", "aria-pressed": "false", onclick: () => fb(false) }, "没帮助")));
  }

  // one key per case being logged: a second click, Enter pressed twice or a retry after a
  // timeout sends the same key, and the server answers with the case the first one created
  const newKey = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
  let saveKey = newKey();

  async function save(ev) {
    ev.preventDefault();
    if ($("#save").disabled) return;
    const form = $("#case-form");
    Zk.clearErrors(form);
    const body = Zk.formValues(form);
    if (body.tags) body.tags = body.tags.split(/[,，、\s]+/).filter(Boolean);
    if (lastSuggestion) body.suggestion_id = lastSuggestion.suggestion_id;
    if (used.size) body.used_solutions = [...used.values()];
    $("#save").disabled = true;
    try {
      const c = await api("/api/v1/cases", { method: "POST", body, headers: { "Idempotency-Key": saveKey } });
      saveKey = newKey();
      $("#contact").value = "";          // the raw number is not kept on screen; the saved box shows it masked
      showSaved(c);
      toast(`已保存 ${c.number}`);
    } catch (err) {
      Zk.showErrors(form, err);
    } finally {
      $("#save").disabled = false;
    }
  }

  function showSaved(c) {
    const exp = c.sla_explanation || {};
    const box = $("#saved");
    box.replaceChildren(
      h("div", {}, "问题编号 ", h("span", { class: "number", id: "saved-number" }, c.number), "　",
        h("span", { class: `badge ${c.priority}` }, c.priority), " ", c.type, " → ", c.group || "未分组"),
      h("dl", { class: "fields" },
        h("dt", {}, "联系方式"), h("dd", {}, c.contact_masked || "—"),
        h("dt", {}, "响应时限"), h("dd", {}, dt(c.response_due_at)), h("dt", {}, ""), h("dd", { class: "muted" }, exp.response ? exp.response.text : "—"),
        h("dt", {}, "解决时限"), h("dd", {}, dt(c.resolution_due_at)), h("dt", {}, ""), h("dd", { class: "muted" }, exp.resolution ? exp.resolution.text : "无解决时限")),
      h("div", { class: "actions" }, h("a", { href: `/cases/${c.number}` }, "查看问题 →"),
        h("button", { type: "button", onclick: () => $("#case-form").reset() }, "登记下一条")));
    box.hidden = false;
    box.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  function resetAll() {
    lastSuggestion = null;
    used.clear();
    $("#used-note").hidden = true;
    touched.clear();
    seq++;
    $("#contact_at").value = localNow();
    $("#proposals").replaceChildren();
    $("#similar").replaceChildren(h("p", { class: "muted" }, "—"));
    $("#articles").replaceChildren(h("p", { class: "muted" }, "—"));
    $("#saved").hidden = true;
    $("#customer-history").hidden = true;
    historySeq++;
    Zk.clearErrors($("#case-form"));
  }

  bind();
  Zk.page(init);
})();
