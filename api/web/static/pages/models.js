/* The analyst's model page: train a candidate (progress from the job), every version with both
   heads' figures and the agents' acceptance, per-class P/R/F1 and the confusion matrix, two
   versions side by side, promote and roll back — the registry's checks answer in words. */
"use strict";
(() => {
  const { api, h, $, $$, dt, pct, toast } = Zk;
  const STATUS = { production: "生产", candidate: "候选", retired: "已退役" };
  const COLORS = ["#1f6feb", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5c7cfa", "#868e96"];
  const charts = {};
  let versions = [];
  const acceptance = {};

  const f3 = (x) => (x === null || x === undefined ? "—" : Number(x).toFixed(3));

  function problem(err) {
    const box = $("#model-error");
    box.textContent = err ? err.message : "";
    box.hidden = !err;
  }

  async function loadAcceptance(version) {
    acceptance[version] = acceptance[version] || await api(`/api/v1/models/${encodeURIComponent(version)}/acceptance`).catch(() => null);
    return acceptance[version];
  }

  async function load() {
    versions = await api("/api/v1/models");
    const [use] = await Promise.all([api("/api/v1/reports/solution-use").catch(() => null),
      ...versions.slice(0, 12).map((v) => loadAcceptance(v.version))]);
    const useOf = Object.fromEntries(((use && use.versions) || []).map((u) => [u.version, u]));
    $("#version-table tbody").replaceChildren(...versions.map((v) => {
      const m = v.metrics || {};
      const acc = acceptance[v.version];
      return h("tr", { class: v.status === "production" ? "production" : "", dataset: { version: v.version } },
        h("td", {}, h("input", { type: "checkbox", class: "pick", value: v.version, "aria-label": `选择 ${v.version}` })),
        h("td", {}, h("button", { type: "button", class: "link", onclick: () => detail(v.version) }, v.version)),
        h("td", {}, h("span", { class: v.status === "production" ? "chip accent" : "chip" }, STATUS[v.status] || v.status),
          m.source === "demo" ? h("span", { class: "chip", title: "用 data/demo 的示例数据训练，指标只说明流程可用" }, "示例数据") : ""),
        h("td", {}, dt(v.created_at)), h("td", { class: "num" }, v.data_rows),
        h("td", { class: "num" }, f3(m.type_macro_f1)), h("td", { class: "num" }, pct(m.type_accuracy, 1)),
        h("td", { class: "num" }, f3(m.priority_macro_f1)), h("td", { class: "num" }, pct(m.priority_accuracy, 1)),
        h("td", { class: "num" }, acc && acc.type.rate !== null ? `${pct(acc.type.rate, 1)}（${acc.type.shown}）` : "—"),
        h("td", { class: "num" }, acc && acc.priority.rate !== null ? `${pct(acc.priority.rate, 1)}（${acc.priority.shown}）` : "—"),
        h("td", { class: "num" }, useOf[v.version] ? `${pct(useOf[v.version].share, 1)}（${useOf[v.version].used}/${useOf[v.version].resolved}）` : "—"),
        h("td", { class: "num" }, useOf[v.version] ? f3(useOf[v.version].mrr) : "—"),
        h("td", {}, m.ranker === undefined ? "—" : `${m.ranker ? "已启用" : "未启用"}（${m.ranker_links} 条）`),
        h("td", {}, v.status !== "production"
          ? h("button", { type: "button", class: "small", id: `promote-${v.version}`, onclick: () => promote(v.version) }, "发布为生产版本") : ""));
    }));
    const picks = $$(".pick");
    if (picks.length >= 2) { picks[0].checked = true; picks[1].checked = true; }
  }

  function evaluationText(ev) {
    if (!ev || !ev.split) return "";
    return ` · 评估：训练 ${ev.train_rows} 条，验证 ${ev.test_rows} 条较新且未见过的案例（近似重复与同一客户的案例不跨两边）` +
      (ev.source === "demo" ? " · 示例数据" : "");
  }

  function rankerText(r) {
    if (!r || r.links === undefined) return "";
    if (!r.kept) return ` · 排序模型未启用：${r.reason || ""}`;
    return ` · 排序模型：${r.links} 条采用记录，留出的 ${r.held_out} 条上 MRR ${f3(r.mrr_ranker)}（词面+语义 ${f3(r.mrr_blend)}）`;
  }

  async function detail(version) {
    const [d, acc] = await Promise.all([api(`/api/v1/models/${encodeURIComponent(version)}`), loadAcceptance(version)]);
    const meta = d.metadata || {};
    $("#detail-card").hidden = false;
    $("#detail-title").textContent = `${version}（${STATUS[d.status] || d.status}）`;
    $("#detail-meta").textContent = `训练人 ${Zk.name(d.trained_by)} · ${dt(d.created_at)} · ${d.data_rows} 行数据 · 文本版本 ${d.text_version}` +
      (d.promoted_at ? ` · ${Zk.name(d.promoted_by)} 于 ${dt(d.promoted_at)} 发布` : "") + evaluationText(meta.evaluation) +
      rankerText(meta.ranker);
    for (const head of ["type", "priority"]) {
      const m = (meta.metrics || {})[head];
      const section = $(`[data-head=${head}]`);
      if (!m) { $("tbody", section).replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "没有评估数据"))); continue; }
      const used = (acc && acc[head] && acc[head].per_label) || {};
      $("tbody", section).replaceChildren(...Object.entries(m.per_class).map(([label, c]) => h("tr", {},
        h("td", {}, label), h("td", { class: "num" }, f3(c.precision)), h("td", { class: "num" }, f3(c.recall)),
        h("td", { class: "num" }, f3(c.f1)), h("td", { class: "num" }, c.support),
        h("td", { class: "num" }, used[label] ? `${pct(used[label].rate, 1)}（${used[label].shown}）` : "—"))),
        h("tr", {}, h("td", {}, h("b", {}, "宏平均")), h("td", {}), h("td", {}), h("td", { class: "num" }, h("b", {}, f3(m.macro_f1))),
          h("td", { class: "num" }, m.test_rows ?? ""), h("td", {})));
      const { labels, matrix } = m.confusion;
      if (charts[head]) charts[head].destroy();
      charts[head] = new Chart($(`#confusion-${head}`), {
        type: "bar",
        data: { labels, datasets: labels.map((predicted, j) => ({ label: `判为 ${predicted}`, data: matrix.map((row) => row[j]),
          backgroundColor: COLORS[j % COLORS.length] })) },
        options: { indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
                   scales: { x: { stacked: true, ticks: { precision: 0 } }, y: { stacked: true } },
                   plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } } });
    }
    $("#detail-card").scrollIntoView({ block: "nearest" });
  }

  async function compare() {
    const picked = $$(".pick").filter((c) => c.checked).map((c) => c.value);
    if (picked.length !== 2) { toast("请勾选两个版本", "error"); return; }
    const [a, b] = await Promise.all(picked.map((v) => api(`/api/v1/models/${encodeURIComponent(v)}`)));
    const rows = [];
    const line = (label, x, y, fmt = f3) => {
      const delta = typeof x === "number" && typeof y === "number" ? y - x : null;
      rows.push(h("tr", {}, h("td", {}, label), h("td", { class: "num" }, fmt(x)), h("td", { class: "num" }, fmt(y)),
        h("td", { class: `num ${delta > 0 ? "better" : delta < 0 ? "worse" : ""}` }, delta === null ? "—" : `${delta > 0 ? "+" : ""}${delta.toFixed(3)}`)));
    };
    for (const [head, name] of [["type", "类型"], ["priority", "优先级"]]) {
      const ma = ((a.metadata || {}).metrics || {})[head] || {};
      const mb = ((b.metadata || {}).metrics || {})[head] || {};
      line(`${name} macro-F1`, ma.macro_f1, mb.macro_f1);
      line(`${name} 准确率`, ma.accuracy, mb.accuracy);
      line(`${name} 校准误差 ECE（越小越好）`, ma.ece, mb.ece);
      const labels = [...new Set([...Object.keys(ma.per_class || {}), ...Object.keys(mb.per_class || {})])];
      for (const l of labels) line(`　${name}「${l}」F1`, (ma.per_class || {})[l]?.f1, (mb.per_class || {})[l]?.f1);
    }
    line("排序模型留出 MRR", (a.metadata || {}).ranker?.mrr_ranker, (b.metadata || {}).ranker?.mrr_ranker);
    line("数据行", a.data_rows, b.data_rows, (x) => (x ?? "—"));
    $("#compare-table thead").replaceChildren(h("tr", {}, h("th", {}, "指标"), h("th", {}, a.version), h("th", {}, b.version), h("th", {}, "变化")));
    $("#compare-table tbody").replaceChildren(...rows);
    $("#compare-card").hidden = false;
    $("#compare-title").textContent = `版本对比：${a.version} → ${b.version}`;
  }

  async function promote(version) {
    const note = prompt(`发布 ${version} 为生产版本？可填写说明：`, "");
    if (note === null) return;
    problem(null);
    try {
      await api(`/api/v1/models/${encodeURIComponent(version)}/promote`, { method: "POST", body: { note: note || null } });
      toast(`${version} 已发布，各节点几秒内开始使用`);
      await load();
    } catch (err) { problem(err); }
  }

  async function rollback() {
    if (!confirm("回滚到上一个生产版本？")) return;
    problem(null);
    try {
      const v = await api("/api/v1/models/rollback", { method: "POST" });
      toast(`已回滚到 ${v.version}`);
      await load();
    } catch (err) { problem(err); }
  }

  async function follow(job) {
    $("#train-box").hidden = false;
    $("#train").disabled = true;
    try {
      while (job.status === "queued" || job.status === "running") {
        $("#train-progress").value = job.progress || 0;
        $("#train-message").textContent = `${job.status === "queued" ? "排队中" : "训练中"} ${pct(job.progress || 0)} ${job.message || ""}`;
        await new Promise((r) => setTimeout(r, 1000));
        job = await api(`/api/v1/models/train/${job.id}`);
      }
      $("#train-progress").value = job.status === "done" ? 1 : job.progress || 0;
      if (job.status === "done") {
        $("#train-message").textContent = `完成：新候选版本 ${job.version || ""}。${job.message || ""}`;
        await load();
      } else {
        $("#train-message").textContent = `训练未完成：${job.message || job.status}`;
      }
    } finally { $("#train").disabled = false; }
  }

  Zk.page(async () => {
    $("#train").addEventListener("click", async () => {
      problem(null);
      try { await follow(await api("/api/v1/models/train", { method: "POST", body: {} })); } catch (err) { problem(err); }
    });
    $("#rollback").addEventListener("click", rollback);
    $("#compare").addEventListener("click", () => compare().catch((err) => toast(err.message, "error")));
    await load();
    const running = (await api("/api/v1/models/train")).find((j) => j.status === "queued" || j.status === "running");
    if (running) follow(running);                   // a run started earlier (or by a colleague) keeps its bar
    const production = versions.find((v) => v.status === "production");
    if (production) await detail(production.version);
  });
})();
