/* The home page: the role's tiles and, for agents and supervisors, the queues to work — one's own
   open cases and the group's (the whole team's for a supervisor), most urgent due time first,
   with 即将到期 / 超期 badges. */
"use strict";
(() => {
  const { api, h, $, dt } = Zk;
  const OPEN = ["待处理", "处理中", "升级处理"];
  const SOON_MS = 2 * 3600 * 1000;            // "due soon": within two hours

  function dueOf(c) { return c.first_response_at ? c.resolution_due_at : (c.response_due_at || c.resolution_due_at); }

  function dueCell(c) {
    const due = dueOf(c);
    if (!due) return h("td", { class: "muted" }, "—");
    const left = new Date(due).getTime() - Date.now();
    const badge = c.overdue || left < 0 ? h("span", { class: "chip due overdue" }, "超期")
      : left < SOON_MS ? h("span", { class: "chip due soon" }, "即将到期") : null;
    return h("td", { style: "white-space:nowrap" }, dt(due), " ", badge);
  }

  async function fill(section, filter, columns) {
    const params = new URLSearchParams({ sort: "due", page_size: 15, ...filter });
    for (const s of OPEN) params.append("status", s);
    const data = await api(`/api/v1/cases?${params}`);
    $("tbody", section).replaceChildren(...data.items.map((c) => h("tr", { class: c.overdue ? "overdue" : "" },
      h("td", {}, h("a", { href: `/cases/${c.number}` }, c.number)), h("td", {}, c.subject),
      h("td", {}, h("span", { class: `badge ${c.priority}` }, c.priority)),
      columns === "owner" ? h("td", {}, c.owner ? Zk.name(c.owner) : h("span", { class: "muted" }, "未分派")) : h("td", {}, c.status),
      dueCell(c))));
    if (!data.items.length) $("tbody", section).append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "没有未完成的问题")));
    $(".more", section).replaceChildren(data.total > data.items.length
      ? h("a", { href: `/cases?${new URLSearchParams({ ...filter, sort: "due" })}` }, `共 ${data.total} 条，查看全部 →`) : "");
  }

  Zk.page(async () => {
    Zk.showByRole(document.querySelectorAll(".tile, .queues [data-roles]"));
    const me = Zk.user();
    if (!Zk.can(["agent"])) return;
    const work = [fill($("#my-queue"), { owner: me.username }, "status")];
    if (me.role === "admin") {                 // a supervisor sees the whole team's open cases
      $("#group-queue h2").firstChild.textContent = "团队队列 ";
      work.push(fill($("#group-queue"), {}, "owner"));
    } else if (me.group_code) {
      $("#group-name").textContent = me.group_code;
      work.push(fill($("#group-queue"), { group: me.group_code }, "owner"));
    } else {
      $("#group-queue").hidden = true;
    }
    await Promise.all(work);
  });
})();
