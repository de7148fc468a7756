/* Search from the top bar: a case number opens the case; words find cases in every status
   (subject, description, customer, order number, tags…) and the articles this user may see,
   with the words marked, filters kept in the URL and paging. */
"use strict";
(() => {
  const { api, h, $, dt } = Zk;
  const PAGE_SIZE = 10;
  const CASE_NUMBER = /^FW\d{11}$/i;
  let page = 1;

  function params() {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(Zk.formValues($("#find-filters")))) p.set(k, v);
    return p;
  }

  function caseRow(c, words) {
    return h("div", { class: "result" },
      h("div", {}, h("a", { href: `/cases/${c.number}`, class: "title" }, Zk.marked(c.number, words)), " ",
        Zk.marked(c.subject, words), " ", h("span", { class: `badge ${c.priority}` }, c.priority), " ",
        h("span", { class: "chip" }, c.status), c.overdue ? h("span", { class: "chip", style: "color:#c62828" }, "超期") : null),
      h("div", { class: "muted" }, Zk.marked(Zk.around(c.description, words), words)),
      h("div", { class: "meta" }, Zk.marked(c.customer_name, words), c.order_number ? ["　订单 ", Zk.marked(c.order_number, words)] : "",
        c.tags.length ? ["　", c.tags.map((t) => h("span", { class: "chip" }, Zk.marked(t, words)))] : "",
        `　${c.type} · ${dt(c.contact_at)}`));
  }

  function articleRow(a, words) {
    // the text a reader sees: the server's rendered (sanitised) HTML, read as text — never Markdown marks
    const text = new DOMParser().parseFromString(a.body_html, "text/html").body.textContent.replace(/\s+/g, " ");
    return h("div", { class: "result" },
      h("div", {}, h("a", { href: `/knowledge/${a.id}`, class: "title" }, Zk.marked(a.title, words)), " ",
        h("span", { class: "chip" }, a.state), a.tags.map((t) => h("span", { class: "chip" }, Zk.marked(t, words)))),
      h("div", { class: "muted" }, Zk.marked(Zk.around(text, words), words)));
  }

  async function search() {
    const form = $("#find-filters");
    Zk.clearErrors(form.parentElement);
    const p = params();
    const q = (p.get("q") || "").trim();
    history.replaceState(null, "", `?${p}${page > 1 ? `&page=${page}` : ""}`);
    $("#find-q").value = q;
    if (!q) {
      $("#find-summary").textContent = "输入关键词或问题编号";
      return;
    }
    const words = q.split(/\s+/);
    const caseQuery = new URLSearchParams(p);
    caseQuery.set("page", page);
    caseQuery.set("page_size", PAGE_SIZE);
    const articleQuery = new URLSearchParams({ q, page_size: 20 });
    if (p.get("product")) articleQuery.set("product", p.get("product"));
    try {
      const [cases, articles] = await Promise.all([api(`/api/v1/cases?${caseQuery}`), api(`/api/v1/articles?${articleQuery}`)]);
      $("#case-results").replaceChildren(...(cases.items.length ? cases.items.map((c) => caseRow(c, words))
        : [h("p", { class: "muted" }, "没有匹配的问题")]));
      $("#article-results").replaceChildren(...(articles.items.length ? articles.items.map((a) => articleRow(a, words))
        : [h("p", { class: "muted" }, "没有匹配的文章")]));
      $("#case-count").textContent = `${cases.total} 条`;
      $("#article-count").textContent = `${articles.total} 篇`;
      $("#find-summary").textContent = `“${q}”`;
      const pages = Math.max(1, Math.ceil(cases.total / PAGE_SIZE));
      $("#page-info").textContent = `第 ${page} / ${pages} 页`;
      $("#prev").disabled = page <= 1;
      $("#next").disabled = page >= pages;
    } catch (err) {
      Zk.showErrors(form, err, form.parentElement.querySelector(".form-error"));
    }
  }

  async function init() {
    const p = new URLSearchParams(location.search);
    const q = (p.get("q") || "").trim();
    if (CASE_NUMBER.test(q)) {                       // a number: straight to the case when it exists
      const found = await api(`/api/v1/cases/${encodeURIComponent(q.toUpperCase())}`).catch(() => null);
      if (found) { location.replace(`/cases/${found.number}`); return; }
    }
    const tax = await Zk.taxonomy();
    Zk.fillSelect($("#f-type"), tax.type || [], { empty: "全部" });
    for (const [k, v] of p) {
      const el = $(`#find-filters [name="${k}"]`);
      if (el) el.value = v;
    }
    page = Number(p.get("page") || 1);
    $("#find-filters").addEventListener("submit", (ev) => { ev.preventDefault(); page = 1; search(); });
    $("#prev").addEventListener("click", () => { page--; search(); });
    $("#next").addEventListener("click", () => { page++; search(); });
    await search();
  }

  Zk.page(init);
})();
