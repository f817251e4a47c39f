"""Validation issues are data. The catalogue of codes, their severity and Chinese messages lives here."""
from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR, WARNING = "error", "warning"

# code -> (severity, what it means, what the unit should do). Receipts, the marked-up copy, the JSON
# output and the README read from this one table.
CATALOGUE: dict[str, tuple[str, str, str]] = {
    "E_UNREADABLE": (ERROR, "文件无法读取", "请用 Excel 或 WPS 打开确认无误后，另存为 .xlsx 重新报送"),
    "E_ENCRYPTED": (ERROR, "文件设置了密码", "请取消密码（Excel：文件→信息→保护工作簿→用密码进行加密，清空密码）后重新报送"),
    "E_FORMAT": (ERROR, "表格格式无法读取", "请在 WPS/Excel 中另存为 .xlsx（使用附件2模板）后重新报送"),
    "E_INTERNAL": (ERROR, "系统处理出错", "系统处理出错，已记录，请联系局安全监督股；不需要重新报送"),
    "E_NOT_ANNEX2": (ERROR, "文件中找不到附件2", "请使用附件2模板（安全生产督查情况统计表）填报"),
    "E_UNIT_UNKNOWN": (ERROR, "填报单位不明", "请在“填报单位（章）”后填写本单位全称"),
    "E_UNIT_MISMATCH": (ERROR, "填报单位与报送来源不符", "请确认填报单位，并放入本单位自己的文件夹（或用本单位邮箱）报送"),
    "E_PERIOD": (ERROR, "统计期间有误", "请按“2023年 1月至 5月（累计数）”的格式填写年份和起止月份"),
    "E_SECTOR_MISSING": (ERROR, "行业领域行缺失或多余", "请保留附件2的全部 7 个行业领域行（没有数据填 0），不要增加其他行"),
    "E_VALUE_TYPE": (ERROR, "数值不是数字", "请填写整数（没有的填 0）"),
    "E_NEGATIVE": (ERROR, "数值为负数", "请填写不小于 0 的整数"),
    "E_FRACTION": (ERROR, "数值不是整数", "请填写整数"),
    "E_FIXED_GT_FOUND": (ERROR, "已整改数大于隐患数", "请核对后重新报送"),
    "E_TOTAL": (ERROR, "合计与各行之和不符", "请改正合计（或清空合计栏，系统会自动计算）"),
    "W_RATE": (WARNING, "整改率与计算值不符", "系统已按 已整改数÷隐患数 重新计算，请核对"),
    "W_CUMULATIVE_DROP": (WARNING, "累计数比上月少", "累计数一般不应减少，请核对是否填成了当月数"),
    "W_OUTLIER": (WARNING, "本月增量异常", "本月增量远超本单位以往水平，请核对"),
    "W_INSPECTORS_LT_TEAMS": (WARNING, "督查人员少于督查组", "每个督查组至少应有 1 人次，请核对"),
    "W_FROM_MONTH": (WARNING, "统计期间不是从 1 月开始", "附件2 应填写 1 月至本月的累计数，请核对"),
    "W_UNSIGNED": (WARNING, "未签字", "请填写单位负责人和填表人"),
    "W_PHONE": (WARNING, "联系电话缺失或有误", "请填写可以联系到填表人的电话号码"),
    "E_EMPTY_DOCUMENT": (ERROR, "文档是空的", "请确认文件内容完整（有文字，或有盖章页的扫描图像）后重新报送"),
    "E_MATERIAL_TYPE": (ERROR, "不是可以受理的材料文件",
                        "月度工作情况材料请报送电子版（Word：.docx/.doc/.wps）和盖章版（扫描成 PDF 或 JPG/PNG 图片）"),
    "W_MATERIAL_MONTH_ASSUMED": (WARNING, "材料月份按收到时间推定",
                                 "如月份不对，请在文件名中写明月份（例如“2023年5月工作情况”）后重新报送"),
}

# The progress form of the Annex 1 key tasks (重点任务推进情况表, spec 11).
CATALOGUE.update({
    "E_TASK_UNKNOWN": (ERROR, "任务编号不在本单位的任务清单中", "请使用本系统按本单位和月份生成的重点任务推进情况表，不要改动编号"),
    "E_TASK_STATUS": (ERROR, "完成情况填写有误", "完成情况只能从下拉框选择“未启动”“推进中”“阶段性完成”“已完成”之一"),
    "E_TASK_NO_PROGRESS": (ERROR, "未填写本月进展", "完成情况为“推进中”“阶段性完成”或“已完成”的，请在“本月进展”中写明本月做了什么"),
    "W_TASK_MISSING": (WARNING, "本月应报的任务未填报", "请在推进情况表中填报本单位本月的全部重点任务"),
    "E_TASK_LIST": (ERROR, "局重点任务清单正在更正", "本表待清单更正后由系统自动校验并另发回执；不需要重新报送"),
})


@dataclass(frozen=True)
class Issue:
    code: str
    severity: str
    sheet: str | None
    cell: str | None
    sector: str | None
    metric: str | None
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def issue(code: str, detail: str, *, sheet: str | None = None, cell: str | None = None,
          sector: str | None = None, metric: str | None = None) -> Issue:
    """An issue whose message is: [cell] detail：what to do."""
    severity, _title, advice = CATALOGUE[code]
    where = f"{cell} " if cell else ""
    return Issue(code, severity, sheet, cell, sector, metric, f"{where}{detail}：{advice}")


def has_errors(issues: list[Issue]) -> bool:
    return any(i.severity == ERROR for i in issues)


def title(code: str) -> str:
    return CATALOGUE[code][1]


# Materials (spec 10) share codes with workbooks, but the workbook advice ("另存为 .xlsx") would mislead a unit
# that sent a Word report or a scan: these codes get the materials' own advice.
MATERIAL_ADVICE: dict[str, str] = {
    "E_UNREADABLE": "请确认文件能正常打开，重新导出或扫描为 PDF（或另存为 .docx）后重新报送",
    "E_ENCRYPTED": "请取消文件的打开密码（或重新导出一份不加密的 PDF/Word 文件）后重新报送",
    "E_UNIT_UNKNOWN": "请放入本单位自己的文件夹，或在文件名中写明单位名称（例如“执法大队2023年5月工作情况”）",
    "E_UNIT_MISMATCH": "请确认文件名中的单位，并放入该单位自己的文件夹（或用该单位的邮箱）报送",
}


def material_issue(code: str, detail: str) -> Issue:
    """An issue about a work-material file: the message is detail：what to do (materials' advice)."""
    severity, _title, advice = CATALOGUE[code]
    return Issue(code, severity, None, None, None, None, f"{detail}：{MATERIAL_ADVICE.get(code, advice)}")
