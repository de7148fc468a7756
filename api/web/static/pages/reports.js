/* Supervisor reports: six reports for one date range, each as a chart (Chart.js, served
   locally), its table, and a CSV download of exactly that table. */
"use strict";
(() => {
  const { api, h, $, $$, dt, pct, toast } = Zk;
  const charts = {};
  const COLORS = ["#1f6feb", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5c7cfa", "#868e96"];
  let data = {};
  let tax = {};

  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    config.options = { responsive: true, maintainAspectRatio: false, animation: false,
                       plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }, ...(config.options || {}) };
    charts[id] = new Chart($(`#${id}`), config);
  }

  function table(section, report, name) {
    section.querySelector("details")?.remove();
    // a rate column is a share (0…1) whatever its value: 0 reads 0.0%, 1 reads 100.0%
    const isRate = report.columns.map((c) => /率|CSAT|占比/.test(c));
    const fmt = (v, i) => (v === null || v === undefined ? "—" : isRate[i] && typeof v === "number" ? pct(v, 1)
      : Array.isArray(v) ? v.join("、") : String(v));
    section.append(h("details", { class: "table" }, h("summary", {}, `表格（${report.rows.length} 行）`),
      h("button", { type: "button", class: "small", onclick: () => Zk.download(`/api/v1/reports/${name}?${params()}&format=csv`, `${name}.csv`) }, "下载 CSV"),
      h("div", { class: "table-scroll" }, h("table", {}, h("thead", {}, h("tr", {}, report.columns.map((c) => h("th", {}, c)))),
        h("tbody", {}, report.rows.map((r) => h("tr", {}, r.map((v, i) => h("td", { class: typeof v === "number" ? "num" : null }, fmt(v, i))))))))));
  }

  function params() {
    return new URLSearchParams(Zk.formValues($("#range"))).toString();
  }

  function kpis() {
    const s = data.sla.overall || {};
    const items = [["问题数", data.volumes.total], ["响应达标率", pct(s.response_rate, 1)], ["解决达标率", pct(s.resolution_rate, 1)],
                   ["当前超期", s.overdue ?? 0], ["CSAT（满意占比）", pct(data.satisfaction.csat, 1)],
                   ["NPS", data.nps.nps ?? "—"], ["解决用时中位", s.median_resolution_hours !== undefined && s.median_resolution_hours !== null ? `${s.median_resolution_hours} 小时` : "—"]];
    $("#kpis").replaceChildren(...items.map(([k, v]) => h("div", { class: "kpi" }, h("div", { class: "v" }, String(v)), h("div", { class: "k" }, k))));
  }

  function drawVolumes() {
    const dim = $("#volume-dim").value;
    const series = data.volumes.series[dim];
    chart("chart-volumes", { type: "bar", data: { labels: data.volumes.periods,
      datasets: Object.entries(series).map(([label, counts], i) => ({ label, data: counts, backgroundColor: COLORS[i % COLORS.length] })) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } });
  }

  /* share over the last `days` periods: sum(part) / sum(whole), null while nothing was rated */
  function rolling(part, whole, days = 7) {
    return part.map((_, i) => {
      let p = 0, w = 0;
      for (let j = Math.max(0, i - days + 1); j <= i; j++) { p += part[j]; w += whole[j]; }
      return w ? p / w : null;
    });
  }

  /* Each report is drawn as soon as it arrives (at 100k cases in range the SLA and top-problems
     reports take about a second each): the supervisor reads the KPIs and the quick charts
     without waiting for the slowest one. */
  const drawers = {
    volumes() {
      drawVolumes();
      const v = data.volumes;
      $("#range-note").textContent = `${v.date_from} 至 ${v.date_to}，按${{ day: "日", week: "周", month: "月" }[v.granularity]}`;
    },
    sla() {
      const byP = data.sla.by_priority;
      const order = new Map((tax.priority || []).map((l, i) => [l.code, i]));
      const pr = Object.keys(byP).sort((a, b) => (order.get(a) ?? 99) - (order.get(b) ?? 99));
      chart("chart-sla", { type: "bar", data: { labels: pr, datasets: [
        { label: "响应达标率", data: pr.map((p) => byP[p].response_rate), backgroundColor: COLORS[0] },
        { label: "解决达标率", data: pr.map((p) => byP[p].resolution_rate), backgroundColor: COLORS[2] }] },
        options: { scales: { y: { min: 0, max: 1, ticks: { callback: (v) => pct(v) } } } } });
      $("#overdue tbody").replaceChildren(...data.sla.overdue_cases.map((c) => h("tr", { class: "overdue" },
        h("td", {}, h("a", { href: `/cases/${c.number}` }, c.number)), h("td", {}, c.subject), h("td", {}, c.priority), h("td", {}, c.status),
        h("td", {}, Zk.name(c.owner)), h("td", {}, dt(c.resolution_due_at)))));
      if (!data.sla.overdue_cases.length) $("#overdue tbody").append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "没有超期问题")));
    },
    satisfaction() {
      const sat = data.satisfaction;
      // by day a handful of ratings makes the rate jump 0 → 100 % → 0: the line is a 7-day window then
      const daily = sat.granularity === "day";
      const rated = sat.periods.map((_, i) => Object.values(sat.series).reduce((n, counts) => n + counts[i], 0));
      const csatLine = daily ? rolling(sat.series["满意"] || [], rated) : sat.csat_series;
      chart("chart-csat", { type: "bar", data: { labels: sat.periods, datasets: [
        ...Object.entries(sat.series).map(([label, counts], i) => ({ label, data: counts, stack: "s", backgroundColor: ["#2f9e44", "#f08c00", "#e03131"][i] })),
        { label: daily ? "CSAT（近 7 日）" : "CSAT", type: "line", data: csatLine, yAxisID: "rate", borderColor: COLORS[0], spanGaps: true }] },
        options: { scales: { y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, rate: { position: "right", min: 0, max: 1, ticks: { callback: (v) => pct(v) } } } } });
    },
    nps() {
      const nps = data.nps;
      const daily = nps.granularity === "day";
      const answers = nps.periods.map((_, i) => nps.series.promoters[i] + nps.series.passives[i] + nps.series.detractors[i]);
      const detractors = rolling(nps.series.detractors, answers);
      const npsLine = daily
        ? rolling(nps.series.promoters, answers).map((p, i) => (p === null ? null : Math.round((p - detractors[i]) * 1000) / 10))
        : nps.nps_series;
      chart("chart-nps", { type: "line", data: { labels: nps.periods, datasets: [
        { label: daily ? "NPS（近 7 日）" : "NPS", data: npsLine, borderColor: COLORS[3], spanGaps: true },
        { label: "回答数", type: "bar", data: answers, yAxisID: "n", backgroundColor: "#dee2e6" }] },
        options: { scales: { y: { min: -100, max: 100 }, n: { position: "right", beginAtZero: true, ticks: { precision: 0 } } } } });
    },
    "top-problems"() {
      const top = data["top-problems"].problems;
      chart("chart-top", { type: "bar", data: { labels: top.map((p) => p.title.slice(0, 14)), datasets: [
        { label: "前半段", data: top.map((p) => p.first_half), backgroundColor: "#a5d8ff" },
        { label: "后半段", data: top.map((p) => p.second_half), backgroundColor: COLORS[0] }] },
        options: { indexAxis: "y", scales: { x: { stacked: true, ticks: { precision: 0 } }, y: { stacked: true } } } });
    },
    acceptance() {
      const acc = data.acceptance.versions;
      chart("chart-acceptance", { type: "bar", data: { labels: acc.map((v) => v.version), datasets: [
        { label: "类型采纳率", data: acc.map((v) => v.type_rate), backgroundColor: COLORS[0] },
        { label: "优先级采纳率", data: acc.map((v) => v.priority_rate), backgroundColor: COLORS[1] }] },
        options: { scales: { y: { min: 0, max: 1, ticks: { callback: (v) => pct(v) } } } } });
    },
    "solution-use"() {
      const r = data["solution-use"];
      const lines = [{ ...r.all, version: "全部" }, ...r.versions.map((v) => ({ ...v, version: v.version || "规则（无模型）" }))];
      chart("chart-solution-use", { type: "bar", data: { labels: lines.map((v) => v.version), datasets: [
        { label: "采用率", data: lines.map((v) => v.share), backgroundColor: COLORS[0] },
        { label: "采用位次 MRR", data: lines.map((v) => v.mrr), backgroundColor: COLORS[1] }] },
        options: { scales: { y: { min: 0, max: 1 } } } });
    },
  };
  const KPI_INPUTS = ["volumes", "sla", "satisfaction", "nps"];

  let loading = 0;
  async function load() {
    const form = $("#range");
    Zk.clearErrors(form.parentElement);
    const q = params();
    history.replaceState(null, "", `?${q}`);
    const mine = ++loading;
    data = {};
    let failed = false;
    await Promise.all(Object.keys(drawers).map(async (name) => {
      try {
        const report = await api(`/api/v1/reports/${name}?${q}`);
        if (mine !== loading) return;                 // a newer range was asked for meanwhile
        data[name] = report;
        drawers[name]();
        const section = $(`[data-report="${name}"]`);
        if (section) table(section, report, name);
        if (KPI_INPUTS.every((n) => data[n])) kpis();
      } catch (err) {
        if (mine !== loading || failed) return;        // one message for a bad range, not six
        failed = true;
        Zk.showErrors(form, err, form.parentElement.querySelector(".form-error"));
      }
    }));
  }

  Zk.page(async () => {
    tax = await Zk.taxonomy();
    const qs = new URLSearchParams(location.search);
    const today = new Date();
    const iso = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
    $("#date_to").value = qs.get("date_to") || iso(today);
    $("#date_from").value = qs.get("date_from") || iso(new Date(today.getTime() - 89 * 86400000));
    $("#granularity").value = qs.get("granularity") || "";
    $("#range").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
    $("#volume-dim").addEventListener("change", drawVolumes);
    await load();
  });
})();
