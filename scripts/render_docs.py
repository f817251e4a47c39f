"""Refresh the PNG renders in docs/: run the demo, print what people see with LibreOffice (headless) to PDF,
turn the pages into PNGs with pdftoppm. Look at every PNG before committing it.

    python scripts/render_docs.py            # writes docs/*.png
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.cli.commands import cli  # noqa: E402
from pipeline.demo.story import run_demo  # noqa: E402

# name in docs/ -> (file under the demo folder, pages to render)
RENDERS = {
    "leadership": ("outbox/2023-05/安全生产督查情况汇总_2023年5月.xlsx", (1, 2)),
    "bulletin": ("outbox/2023-05/notices/通报_2023年5月报送情况.docx", (1, 2)),
    "reminder": ("outbox/2023-05/notices/催报通知_现代物流中心.docx", (1, 2)),
    "escalation": ("outbox/2023-05/notices/报告_2023年迟报逾期情况_截至5月.docx", (1, 2)),
    "markup": ("markup/附件2_交通质量和安全监督站_2023年5月（初稿）_错误标注.xlsx", (1, 2)),
    # the leadership workbook's 重点任务 sheet: the pages whose text carries its header row
    "leadership-tasks": ("outbox/2023-05/安全生产督查情况汇总_2023年5月.xlsx", "编号任务名称完成时限"),  # its header row repeats on every page
}


def pages_with(pdf: Path, marker: str) -> tuple[int, ...]:
    """The 1-based pages of `pdf` whose text holds `marker` (pdftotext; pages are split by form feeds)."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    return tuple(i for i, page in enumerate(text.split("\f"), start=1) if marker in page.replace(" ", ""))


def soffice_pdf(src: Path, outdir: Path, profile: Path) -> Path:
    subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(outdir), str(src)], check=True, capture_output=True,
                   timeout=300)
    return outdir / (src.stem + ".pdf")


def main() -> None:
    from click.testing import CliRunner

    docs = ROOT / "docs"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo = run_demo(tmp / "demo").root
        # the rejected draft as the unit sent it, marked up as `annex2 validate --markup` does it
        draft = next(demo.glob("archive/*/交通质量和安全监督站/*初稿*.xlsx"))
        sent = tmp / "附件2_交通质量和安全监督站_2023年5月（初稿）.xlsx"
        shutil.copyfile(draft, sent)
        result = CliRunner().invoke(cli, ["--config", str(demo / "config.toml"), "validate", "--markup",
                                          str(demo / "markup"), str(sent)])
        assert result.exit_code == 1, result.output
        for name in RENDERS:  # only ours: docs/make_task_renders.py writes the others
            for old in docs.glob(f"{name}-page*.png"):
                old.unlink()
        for name, (rel, pages) in RENDERS.items():
            pdf = soffice_pdf(demo / rel, tmp / "pdf", tmp / "profile")
            if isinstance(pages, str):
                found = pages_with(pdf, pages)
                assert found, f"{rel}: no page holds {pages}"
                pages = {p: n for n, p in enumerate(found, start=1)}
            else:
                pages = {p: p for p in pages}
            for page, n in pages.items():
                subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile",
                                str(pdf), str(docs / f"{name}-page{n}")], check=True)
                print(docs / f"{name}-page{n}.png")


if __name__ == "__main__":
    main()
