/* Spreadsheet import: upload, then read the server's progress lines (NDJSON) into a progress
   bar, then show the report — every bad row with its row number, column and reason. */
"use strict";
(() => {
  const { api, h, $, toast } = Zk;
  const PHASES = { check: "检查", store: "保存" };

  async function run(dryRun) {
    const form = $("#import-form");
    Zk.clearErrors(form.parentElement);
    const file = $("#file").files[0];
    if (!file) { Zk.showErrors(form, { errors: [{ field: "file", message: "请选择文件" }], message: "" }); return; }
    const data = new FormData();
    data.append("file", file);
    const params = new URLSearchParams({ dry_run: dryRun });
    if ($("#encoding").value) params.set("encoding", $("#encoding").value);
    for (const b of ["#dry-run", "#do-import"]) $(b).disabled = true;
    $("#progress-box").hidden = false;
    $("#progress").removeAttribute("value");
    $("#progress-text").textContent = `上传 ${file.name}…`;
    $("#report").hidden = true;
    try {
      const resp = await api(`/api/v1/cases/import?${params}`, { method: "POST", form: data, raw: true,
                                                                 headers: { Accept: "application/x-ndjson" } });
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      let report = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = JSON.parse(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
          if (line.phase) {
            $("#progress").max = line.total || 1;
            $("#progress").value = line.done;
            $("#progress-text").textContent = `${PHASES[line.phase]} ${line.done} / ${line.total} 行`;
          } else if (line.error) {
            throw new Zk.ApiError(422, { detail: line.error.detail, errors: line.error.field ? [{ field: line.error.field, message: line.error.detail }] : [] });
          } else if (line.report) report = line.report;
        }
      }
      if (report) show(report, file.name);
    } catch (err) {
      Zk.showErrors(form, err, form.parentElement.querySelector(".form-error"));
    } finally {
      for (const b of ["#dry-run", "#do-import"]) $(b).disabled = false;
      $("#progress-box").hidden = true;
    }
  }

  function show(r, name) {
    $("#report").hidden = false;
    $("#report-title").textContent = `${r.dry_run ? "检查结果" : "导入结果"}：${name}`;
    $("#report-summary").replaceChildren(
      h("span", {}, "共 ", h("b", {}, r.total_rows), " 行"),
      h("span", {}, "合格 ", h("b", { class: "ok" }, r.ok_rows)),
      h("span", {}, "有问题 ", h("b", { class: "bad", id: "bad-count" }, r.bad_rows)),
      r.dry_run ? h("span", { class: "muted" }, "（检查模式，未保存）") : h("span", {}, "已导入 ", h("b", { class: "ok", id: "imported-count" }, r.imported)),
      r.ignored_columns.length ? h("span", { class: "muted" }, `忽略的列：${r.ignored_columns.join("、")}`) : "",
      ...(r.notes || []).map((n) => h("span", { class: "bad" }, n)));
    $("#report-errors tbody").replaceChildren(...r.errors.map((e) => h("tr", {}, h("td", { class: "num" }, e.row), h("td", {}, e.column), h("td", {}, e.reason))));
    $("#report-errors").hidden = !r.errors.length;
    $("#report-numbers").replaceChildren(...(r.numbers.length ? ["新问题编号：", ...r.numbers.slice(0, 50).flatMap((n) => [h("a", { href: `/cases/${n}` }, n), " "]),
      r.numbers.length > 50 ? `… 共 ${r.numbers.length} 条` : ""] : []));
    toast(r.dry_run ? `检查完成：${r.bad_rows} 行有问题` : `已导入 ${r.imported} 行`);
  }

  Zk.page(async () => {
    $("#dry-run").addEventListener("click", () => run(true));
    $("#do-import").addEventListener("click", () => run(false));
    $("#tpl-xlsx").addEventListener("click", () => Zk.download("/api/v1/cases/import/template?format=xlsx", "需求记录表模板.xlsx"));
    $("#tpl-csv").addEventListener("click", () => Zk.download("/api/v1/cases/import/template?format=csv", "需求记录表模板.csv"));
  });
})();
