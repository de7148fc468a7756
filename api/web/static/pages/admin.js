/* Administration without curl: users and their keys (a new key is shown once), audiences,
   the taxonomy with type → group routing, the domain dictionary, and the SLA policy with the
   year's working calendar exactly as the service computes due times. Every rule (who may do
   what, what is valid) is the API's; this page only shows its answers. */
"use strict";
(() => {
  const { api, h, $, $$, dt, toast } = Zk;
  const ROLES = Object.entries(Zk.ROLE_NAMES);
  let tax = {};

  const loaders = {};
  function showTab(name) {
    for (const b of $$("#tabs button")) {
      b.classList.toggle("active", b.dataset.tab === name);
      b.setAttribute("aria-selected", String(b.dataset.tab === name));
    }
    for (const t of $$(".tab")) t.hidden = t.id !== `tab-${name}`;
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
    loaders[name]().catch((err) => toast(err.message, "error"));
  }

  async function refreshTaxonomy() {
    tax = await api("/api/v1/taxonomy");
    for (const sel of $$(".group-select")) {
      const keep = sel.value;
      Zk.fillSelect(sel, tax.group || [], { empty: "—" });
      sel.value = keep;
    }
  }

  function submitter(form, run) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      Zk.clearErrors(form);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try { await run(Zk.formValues(form)); } catch (err) { Zk.showErrors(form, err); } finally { button.disabled = false; }
    });
  }

  /* ---------------------------------------------------------------- users and keys */
  let keysFor = null;

  loaders.users = async () => {
    const users = await api("/api/v1/users");
    $("#user-table tbody").replaceChildren(...users.map((u) => {
      const name = h("input", { value: u.display_name, maxlength: 32, "aria-label": `${u.username} 的显示名`, size: 10 });
      const role = h("select", { "aria-label": `${u.username} 的角色` }, ROLES.map(([code, label]) => h("option", { value: code }, label)));
      role.value = u.role;
      const group = h("select", { "aria-label": `${u.username} 的处理组` });
      Zk.fillSelect(group, tax.group || [], { empty: "—" });
      group.value = u.group_code || "";
      const patch = async (body, done) => {
        try { await api(`/api/v1/users/${encodeURIComponent(u.username)}`, { method: "PATCH", body }); toast(done); await loaders.users(); }
        catch (err) { toast(err.message, "error"); }
      };
      return h("tr", { class: u.active ? "" : "inactive", dataset: { username: u.username } },
        h("td", {}, u.username), h("td", {}, name), h("td", {}, role), h("td", {}, group),
        h("td", {}, u.active ? "启用" : "已停用"),
        h("td", { style: "white-space:nowrap" },
          h("button", { type: "button", class: "small", onclick: () => patch({ display_name: name.value.trim(), role: role.value,
            group_code: group.value || null }, `已保存 ${u.username}`) }, "保存"), " ",
          h("button", { type: "button", class: "small", onclick: () => patch({ active: !u.active }, u.active ? `已停用 ${u.username}` : `已启用 ${u.username}`) },
            u.active ? "停用" : "启用"), " ",
          h("button", { type: "button", class: "small", onclick: () => openKeys(u) }, "密钥")));
    }));
  };

  async function openKeys(u) {
    keysFor = u;
    $("#keys-card").hidden = false;
    $("#keys-user").textContent = `${u.display_name}（${u.username}）`;
    $("#issued").hidden = true;
    await loadKeys();
    $("#keys-card").scrollIntoView({ block: "nearest" });
  }

  async function loadKeys() {
    const keys = await api(`/api/v1/users/${encodeURIComponent(keysFor.username)}/keys`);
    $("#key-table tbody").replaceChildren(...keys.map((k) => h("tr", { class: k.revoked_at ? "inactive" : "" },
      h("td", {}, h("code", {}, k.prefix)), h("td", {}, k.note || "—"), h("td", {}, dt(k.created_at)),
      h("td", {}, k.revoked_at ? `已吊销 ${dt(k.revoked_at)}` : "有效"),
      h("td", {}, k.revoked_at ? "" : h("button", { type: "button", class: "small", onclick: () => revoke(k.prefix) }, "吊销")))));
    if (!keys.length) $("#key-table tbody").append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "还没有密钥")));
  }

  async function revoke(prefix) {
    if (!confirm(`吊销密钥 ${prefix}？使用它的人会立即无法登录。`)) return;
    try { await api(`/api/v1/keys/${encodeURIComponent(prefix)}`, { method: "DELETE" }); toast(`已吊销 ${prefix}`); await loadKeys(); }
    catch (err) { toast(err.message, "error"); }
  }

  /* ---------------------------------------------------------------- audiences */
  let editingAudience = null;

  function audienceForm(a) {
    editingAudience = a;
    const form = $("#audience-form");
    form.reset();
    Zk.clearErrors(form);
    $("#aud-code").value = a ? a.code : "";
    $("#aud-code").disabled = !!a;
    form.elements.name.value = a ? a.name : "";
    for (const box of $$("#aud-roles input")) box.checked = !!a && a.roles.includes(box.value);
    for (const o of $("#aud-groups").options) o.selected = !!a && a.groups.includes(o.value);
    $("#aud-save").textContent = a ? `保存受众 ${a.code}` : "新建受众";
    $("#aud-cancel").hidden = !a;
  }

  loaders.audiences = async () => {
    const list = await api("/api/v1/audiences");
    Zk.fillSelect($("#aud-groups"), tax.group || []);
    $("#audience-table tbody").replaceChildren(...list.map((a) => h("tr", { class: a.active ? "" : "inactive" },
      h("td", {}, a.code), h("td", {}, a.name), h("td", {}, a.roles.map((r) => h("span", { class: "chip" }, Zk.ROLE_NAMES[r] || r))),
      h("td", {}, a.groups.map((g) => h("span", { class: "chip" }, g))), h("td", {}, a.active ? "启用" : "已停用"),
      h("td", { style: "white-space:nowrap" },
        h("button", { type: "button", class: "small", onclick: () => audienceForm(a) }, "修改"), " ",
        h("button", { type: "button", class: "small", onclick: async () => {
          try { await api(`/api/v1/audiences/${encodeURIComponent(a.code)}`, { method: "PATCH", body: { active: !a.active } }); await loaders.audiences(); }
          catch (err) { toast(err.message, "error"); }
        } }, a.active ? "停用" : "启用")))));
  };

  /* ---------------------------------------------------------------- taxonomy */
  const kind = () => $("#tax-kind").value;

  loaders.taxonomy = async () => {
    await refreshTaxonomy();
    const labels = tax[kind()] || [];
    const routes = kind() === "type";
    for (const el of $$(".route-only")) el.hidden = !routes;
    $("#label-table tbody").replaceChildren(...labels.map((l) => {
      const name = h("input", { value: l.name, maxlength: 64, size: 8, "aria-label": `${l.code} 的名称` });
      const route = h("select", { "aria-label": `${l.code} 分派到` });
      Zk.fillSelect(route, tax.group || [], { empty: "—" });
      route.value = l.route_group || "";
      const patch = async (body, done) => {
        try { await api(`/api/v1/taxonomy/${kind()}/${encodeURIComponent(l.code)}`, { method: "PATCH", body }); toast(done); await loaders.taxonomy(); }
        catch (err) { toast(err.message, "error"); }
      };
      return h("tr", { class: l.active ? "" : "inactive" },
        h("td", {}, l.code), h("td", {}, name), h("td", {}, l.description || ""), h("td", { class: "num" }, l.sort_order),
        routes ? h("td", {}, route) : null, h("td", {}, l.active ? "启用" : "已停用"),
        h("td", { style: "white-space:nowrap" },
          h("button", { type: "button", class: "small", onclick: () => patch(routes ? { name: name.value.trim(), route_group: route.value || null }
            : { name: name.value.trim() }, `已保存 ${l.code}`) }, "保存"), " ",
          h("button", { type: "button", class: "small", onclick: () => patch({ active: !l.active }, l.active ? `已停用 ${l.code}` : `已启用 ${l.code}`) },
            l.active ? "停用" : "启用")));
    }));
  };

  /* ---------------------------------------------------------------- dictionary */
  const TERM_KINDS = { word: "词", synonym: "同义词", typo: "错别字" };

  loaders.dictionary = async () => {
    const d = await api("/api/v1/dictionary");
    $("#text-version").textContent = d.text_version;
    $("#term-table tbody").replaceChildren(...d.terms.slice().reverse().map((t) => h("tr", {},
      h("td", {}, TERM_KINDS[t.kind] || t.kind), h("td", {}, t.term), h("td", {}, t.canonical || "—"), h("td", {}, Zk.name(t.created_by)),
      h("td", {}, dt(t.created_at)),
      h("td", {}, Zk.can(["knowledge_manager"]) ? h("button", { type: "button", class: "small", onclick: async () => {
        if (!confirm(`删除词条「${t.term}」？`)) return;
        try { await api(`/api/v1/dictionary/${t.id}`, { method: "DELETE" }); toast(`已删除 ${t.term}`); await loaders.dictionary(); }
        catch (err) { toast(err.message, "error"); }
      } }, "删除") : ""))));
    if (!d.terms.length) $("#term-table tbody").append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "还没有自定义词条")));
  };

  /* ---------------------------------------------------------------- SLA and calendar */
  loaders.sla = async () => {
    const policy = await api("/api/v1/sla/policy");
    const bh = policy.business_hours;
    $("#business-hours").textContent = `工作时间 ${bh.start}–${bh.end}${bh.lunch_start ? `（午休 ${bh.lunch_start}–${bh.lunch_end} 不计时）` : ""}；` +
      "“工作日”按国务院节假日安排计算，法定节假日不计，调休上班日照常计时。";
    const order = (tax.priority || []).map((p) => p.code);
    const codes = Object.keys(policy.priority).sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
    $("#policy-table tbody").replaceChildren(...codes.map((code) => h("tr", {}, h("td", {}, h("span", { class: `badge ${code}` }, code)),
      h("td", {}, policy.priority[code].response ? policy.priority[code].response.text : "—"),
      h("td", {}, policy.priority[code].resolution ? policy.priority[code].resolution.text : "无解决时限"))));
    Zk.fillSelect($("#preview-priority"), (tax.priority || []).filter((p) => policy.priority[p.code]));
    await loadCalendar();
  };

  async function loadCalendar() {
    const year = $("#cal-year").value;
    const cal = await api(`/api/v1/sla/calendar?year=${year}`);
    const fmt = (d) => { const [, m, day] = d.date.split("-"); return `${Number(m)}月${Number(day)}日（${"日一二三四五六"[new Date(`${d.date}T12:00:00`).getDay()]}）`; };
    $("#cal-summary").textContent = `${cal.year} 年共 ${cal.workdays} 个工作日，法定节假日 ${cal.holidays.length} 天，调休上班 ${cal.makeup_workdays.length} 天` +
      (cal.estimated ? "。注意：日历包还没有这一年的安排，只按周末估算" : "");
    $("#holiday-table tbody").replaceChildren(...cal.holidays.map((d) => h("tr", {}, h("td", {}, fmt(d)), h("td", {}, d.reason))));
    $("#makeup-table tbody").replaceChildren(...cal.makeup_workdays.map((d) => h("tr", {}, h("td", {}, fmt(d)), h("td", {}, d.reason))));
  }

  Zk.page(async () => {
    Zk.showByRole($$("#tabs button"));
    await refreshTaxonomy();

    Zk.fillSelect($(".role-select"), ROLES.map(([code, name]) => ({ code, name })));
    submitter($("#user-form"), async (v) => {
      const u = await api("/api/v1/users", { method: "POST", body: { ...v, group_code: v.group_code || null } });
      $("#user-form").reset();
      toast(`已新建用户 ${u.username}，请为其签发密钥`);
      await loaders.users();
      await openKeys(u);
    });
    submitter($("#key-form"), async (v) => {
      const issued = await api(`/api/v1/users/${encodeURIComponent(keysFor.username)}/keys`, { method: "POST", body: { note: v.note || "" } });
      $("#key-form").reset();
      const copy = h("button", { type: "button", class: "small", onclick: async () => {
        try { await navigator.clipboard.writeText(issued.key); toast("已复制"); } catch (_) { toast("请手动选择并复制", "error"); }
      } }, "复制");
      $("#issued").replaceChildren(h("div", {}, h("b", {}, "新密钥（只显示这一次，请立即交给本人保存）：")),
        h("code", { id: "issued-key" }, issued.key), " ", copy);
      $("#issued").hidden = false;
      await loadKeys();
    });

    $("#aud-roles").replaceChildren(...ROLES.map(([code, name]) => h("label", {}, h("input", { type: "checkbox", value: code }), name)));
    $("#aud-cancel").addEventListener("click", () => audienceForm(null));
    submitter($("#audience-form"), async (v) => {
      const body = { name: v.name, roles: $$("#aud-roles input").filter((b) => b.checked).map((b) => b.value),
                     groups: Array.from($("#aud-groups").selectedOptions).map((o) => o.value) };
      if (editingAudience) await api(`/api/v1/audiences/${encodeURIComponent(editingAudience.code)}`, { method: "PATCH", body });
      else await api("/api/v1/audiences", { method: "POST", body: { code: v.code, ...body } });
      toast(editingAudience ? `已保存受众 ${editingAudience.code}` : `已新建受众 ${v.code}`);
      audienceForm(null);
      await loaders.audiences();
    });

    $("#tax-kind").addEventListener("change", () => loaders.taxonomy());
    submitter($("#label-form"), async (v) => {
      const body = { code: v.code, name: v.name, description: v.description || "", sort_order: Number(v.sort_order || 0) };
      if (kind() === "type" && v.route_group) body.route_group = v.route_group;
      await api(`/api/v1/taxonomy/${kind()}`, { method: "POST", body });
      $("#label-form").reset();
      toast(`已新增 ${v.code}`);
      await loaders.taxonomy();
    });

    const canonical = () => { $("#canonical-label").hidden = $("#term-kind").value === "word"; };
    $("#term-kind").addEventListener("change", canonical);
    canonical();
    submitter($("#term-form"), async (v) => {
      const body = { kind: v.kind, term: v.term };
      if (v.kind !== "word") body.canonical = v.canonical || null;
      await api("/api/v1/dictionary", { method: "POST", body });
      $("#term-form").reset();
      canonical();
      toast(`已添加 ${v.term}`);
      await loaders.dictionary();
    });

    const thisYear = new Date().getFullYear();
    for (let y = thisYear - 2; y <= thisYear + 1; y++) $("#cal-year").append(h("option", { value: y }, `${y} 年`));
    $("#cal-year").value = thisYear;
    $("#cal-year").addEventListener("change", () => loadCalendar().catch((err) => toast(err.message, "error")));
    submitter($("#preview-form"), async (v) => {
      const r = await api("/api/v1/sla/preview", { method: "POST", body: { priority: v.priority, received_at: v.received_at } });
      $("#preview-result").replaceChildren(
        h("dt", {}, "响应时限"), h("dd", {}, dt(r.response.due_at), h("div", { class: "muted" }, r.response.explanation.text || "")),
        h("dt", {}, "解决时限"), h("dd", {}, r.resolution.due_at ? dt(r.resolution.due_at) : "无", h("div", { class: "muted" }, r.resolution.explanation.text || "")));
    });

    for (const b of $$("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
    const visible = $$("#tabs button").filter((b) => !b.hidden).map((b) => b.dataset.tab);
    const fromHash = () => {                     // /admin#dictionary links straight to a tab (and back/forward work)
      const wanted = decodeURIComponent(location.hash.slice(1));
      showTab(visible.includes(wanted) ? wanted : visible[0]);
    };
    window.addEventListener("hashchange", fromHash);
    fromHash();
  });
})();
