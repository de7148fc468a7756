/* Case list: filters kept in the URL (so a filtered view can be bookmarked or shared),
   overdue rows highlighted, paging, and the same filters exported as CSV/XLSX. */
"use strict";
(() => {
  const { api, h, $, dt } = Zk;
  const PAGE_SIZE = 20;
  let page = 1;

  function query() {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(Zk.formValues($("#filters")))) params.set(k, v);
    return params;
  }

  async function load() {
    const form = $("#filters");
    Zk.clearErrors(form.parentElement);
    const params = query();
    history.replaceState(null, "", `?${params}${page > 1 ? `&page=${page}` : ""}`);
    params.set("page", page);
    params.set("page_size", PAGE_SIZE);
    try {
      const data = await api(`/api/v1/cases?${params}`);
      $("#case-table tbody").replaceChildren(...data.items.map((c) => h("tr", { class: c.overdue ? "overdue" : "", dataset: { number: c.number } },
        h("td", {}, h("a", { href: `/cases/${c.number}` }, c.number), c.overdue ? h("span", { class: "chip", style: "color:#c62828" }, "超期") : null),
        h("td", {}, dt(c.contact_at)), h("td", {}, c.channel), h("td", {}, c.customer_name), h("td", {}, c.subject),
        h("td", {}, c.type), h("td", {}, h("span", { class: `badge ${c.priority}` }, c.priority)), h("td", {}, c.status),
        h("td", {}, Zk.name(c.owner)), h("td", {}, dt(c.resolution_due_at)))));
      if (!data.items.length) $("#case-table tbody").append(h("tr", {}, h("td", { colspan: 10, class: "muted" }, "没有符合条件的问题")));
      const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
      $("#page-info").textContent = `第 ${page} / ${pages} 页，共 ${data.total} 条`;
      $("#prev").disabled = page <= 1;
      $("#next").disabled = page >= pages;
    } catch (err) {
      Zk.showErrors(form, err, form.parentElement.querySelector(".form-error"));
    }
  }

  async function init() {
    const tax = await Zk.taxonomy();
    Zk.fillSelect($("#f-type"), tax.type || [], { empty: "全部" });
    Zk.fillSelect($("#f-priority"), tax.priority || [], { empty: "全部" });
    Zk.fillSelect($("#f-channel"), tax.channel || [], { empty: "全部" });
    Zk.fillSelect($("#f-group"), tax.group || [], { empty: "全部" });
    Zk.showByRole(Zk.$$("[data-roles]", $("#filters")));
    const params = new URLSearchParams(location.search);
    for (const [k, v] of params) {
      const el = $(`#filters [name="${k}"]`);
      if (!el) continue;
      if (el.type === "checkbox") el.checked = v === "true"; else el.value = v;
    }
    page = Number(params.get("page") || 1);
    $("#filters").addEventListener("submit", (ev) => { ev.preventDefault(); page = 1; load(); });
    $("#prev").addEventListener("click", () => { page--; load(); });
    $("#next").addEventListener("click", () => { page++; load(); });
    for (const fmt of ["xlsx", "csv"]) {
      $(`#export-${fmt}`).addEventListener("click", async () => {
        const params = query();
        params.set("format", fmt);
        try { await Zk.download(`/api/v1/cases/export?${params}`, `问题记录.${fmt}`); } catch (err) { Zk.toast(err.message, "error"); }
      });
    }
    await load();
  }

  Zk.page(init);
})();
