/* Knowledge base: articles by state, drafts from resolved cases, gaps and stale lists. */
"use strict";
(() => {
  const { api, h, $, $$, dt, pct, toast } = Zk;
  const PAGE_SIZE = 20;
  let page = 1;

  async function loadArticles() {
    const params = new URLSearchParams(Zk.formValues($("#article-filters")));
    params.set("page", page);
    params.set("page_size", PAGE_SIZE);
    const data = await api(`/api/v1/articles?${params}`);
    $("#article-table tbody").replaceChildren(...data.items.map((a) => h("tr", {},
      h("td", {}, h("a", { href: `/knowledge/${a.id}` }, a.title)), h("td", {}, a.state), h("td", {}, a.audience),
      h("td", {}, a.product || "—"), h("td", {}, a.tags.map((t) => h("span", { class: "chip" }, t))), h("td", { class: "num" }, `v${a.version}`),
      h("td", {}, Zk.name(a.owner)), h("td", {}, dt(a.updated_at)), h("td", {}, pct(a.helpfulness.ratio)))));
    if (!data.items.length) $("#article-table tbody").append(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "没有文章")));
    const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    $("#page-info").textContent = `第 ${page} / ${pages} 页，共 ${data.total} 篇`;
    $("#prev").disabled = page <= 1;
    $("#next").disabled = page >= pages;
  }

  async function loadGaps() {
    const data = await api("/api/v1/kb/gaps?days=365");
    $("#gaps").replaceChildren(h("p", { class: "muted" }, `考察了 ${data.cases_considered} 个未被文章覆盖的已解决问题`),
      ...(data.gaps.length ? data.gaps.map((g) => h("div", { class: "hit" },
        h("div", {}, h("span", { class: "title" }, g.suggested_title), " ", h("span", { class: "chip accent" }, `${g.size} 个问题`),
          g.trend > 0 ? h("span", { class: "chip" }, `近 30 天 +${g.trend}`) : null),
        h("div", { class: "muted" }, "关键词：", g.top_terms.join("、"), g.products.length ? `　产品：${g.products.join("、")}` : ""),
        h("div", {}, "示例：", g.examples.map((e) => [h("a", { href: `/cases/${e.number}` }, e.number), " "]),
          Zk.can(["knowledge_manager"]) ? h("button", { type: "button", class: "small", onclick: () => draftFrom(g.examples[0].number) }, "以首个问题生成草稿") : null)))
        : [h("p", {}, "暂无缺口")]));
  }

  async function loadStale() {
    const data = await api("/api/v1/kb/stale");
    $("#stale-table tbody").replaceChildren(...data.items.map((s) => h("tr", {},
      h("td", {}, h("a", { href: `/knowledge/${s.id}` }, s.title)), h("td", {}, (s.reasons || []).map((r) => r.message).join("；")), h("td", {}, s.next_review_at || "—"))));
    if (!data.items.length) $("#stale-table tbody").append(h("tr", {}, h("td", { colspan: 3, class: "muted" }, "没有需要复审的文章")));
  }

  async function draftFrom(caseNumber) {
    const a = await api("/api/v1/articles/from-case", { method: "POST", body: { case_number: caseNumber } });
    location.href = `/knowledge/${a.id}`;
  }

  function showTab(name) {
    for (const b of $$("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
    for (const t of ["articles", "gaps", "stale"]) $(`#tab-${t}`).hidden = t !== name;
    ({ articles: loadArticles, gaps: loadGaps, stale: loadStale })[name]().catch((err) => toast(err.message, "error"));
  }

  Zk.page(async () => {
    Zk.showByRole($$("[data-roles]", $("main")));
    for (const b of $$("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
    $("#article-filters").addEventListener("submit", (ev) => { ev.preventDefault(); page = 1; loadArticles(); });
    $("#prev").addEventListener("click", () => { page--; loadArticles(); });
    $("#next").addEventListener("click", () => { page++; loadArticles(); });
    $("#from-case-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const form = ev.target;
      Zk.clearErrors(form);
      try { await draftFrom(Zk.formValues(form).case_number || ""); } catch (err) { Zk.showErrors(form, err); }
    });
    await loadArticles();
  });
})();
