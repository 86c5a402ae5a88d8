"""The words the engine puts on a site, in every language a book may choose (``labels:``
in the plugin's options): one registry, :data:`LABELS`, for the pages, the stamp, the
notebook, the preview and the execution report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportLabels:
    """The words of the execution report."""

    environment: str = "Build environment"
    item: str = "Item"
    value: str = "Value"
    device: str = "Device"
    commit: str = "git commit"
    built_at: str = "Built at (UTC)"
    this_build: str = "This build"
    build_summary: str = "ran {ran} pages, reused {cached} from the cache, {seconds:.2f} s running code"
    pages: str = "Pages"
    ran: str = "run by this build"
    reused: str = "reused from the cache"
    page_line: str = ("{how}; run at {when}, {seconds:.2f} s, peak memory {peak:.0f} MiB; "
                      "PyTorch {torch}, {threads} threads; {cpu}.")
    no_torch: str = "not used"
    region: str = "Region"
    status: str = "Status"
    # each run's status, by ``Status`` value (ok, error, not run)
    statuses: tuple[tuple[str, str], ...] = (("ok", "ok"), ("error", "error"),
                                             ("not run", "not run"))
    seconds: str = "Seconds"
    warning_count: str = "Warnings"
    shown_only: str = "shown only"
    key_inputs: str = "Inputs of cache key {key}…"
    kind: str = "Kind"
    name: str = "Name"
    digest: str = "Digest / version"
    module: str = "Project module"
    data_file: str = "Data file"
    package: str = "Package"
    warnings: str = "Warnings"
    warnings_intro: str = "Every warning the code raised (including deprecations Python hides by default):"
    no_warnings: str = "This build captured no warnings."
    category: str = "Category"
    message: str = "Message"
    where: str = "Where"
    raw: str = "Raw record"
    raw_link: str = "The whole build record (JSON): [d2l-record.json](d2l-record.json)."


_REPORT_ZH = ReportLabels(
        environment="构建环境", item="项目", value="值", device="设备", commit="git 提交",
        built_at="构建时间（UTC）", this_build="本次构建",
        build_summary="运行 {ran} 页，复用缓存 {cached} 页，执行阶段用时 {seconds:.2f} 秒",
        pages="各页面的执行情况", ran="本次构建运行", reused="复用缓存结果",
        page_line="{how}；执行于 {when}，用时 {seconds:.2f} 秒，峰值内存 {peak:.0f} MiB；"
                  "PyTorch {torch}，{threads} 个线程；{cpu}。",
        no_torch="未使用", region="代码段", status="状态", seconds="用时（秒）", warning_count="警告数",
        statuses=(("ok", "成功"), ("error", "出错"), ("not run", "未运行")),
        shown_only="仅展示", key_inputs="缓存键 {key}… 的输入", kind="类别", name="名称",
        digest="内容摘要 / 版本", module="项目模块", data_file="数据文件", package="第三方包",
        warnings="警告清单", warnings_intro="运行代码时捕获的全部警告（包括 Python 默认隐藏的弃用警告）：",
        no_warnings="本次构建没有捕获到任何警告。", category="类别", message="消息", where="出现在",
        raw="原始记录", raw_link="完整的构建记录（JSON）：[d2l-record.json](d2l-record.json)。")


@dataclass(frozen=True)
class Labels:
    """The words the engine puts on a page (titles of output blocks, the stamp)."""

    output: str = "Output (this code ran for {time})"
    # how long a region ran: whole seconds with two decimals, else milliseconds, else "under"
    seconds: str = "{value:.2f} s"
    milliseconds: str = "{value:.0f} ms"
    under_a_millisecond: str = "under a millisecond"
    stray: str = "Output of other threads (started by earlier regions)"
    raised: str = "Exception (raised on purpose)"
    warnings: str = "Warnings (captured by the build)"
    stamp: str = "This page's code was run by the build: {parts}."
    stamp_other: str = "The same code also ran on another device: {parts}."
    device: str = "device {device}"
    hardware: str = " ({hardware})"
    # a page that would use GPUs (declared, or inferred from its code) ran where there were none
    gpus_unmet: str = "it would use {gpus} GPU{plural} where there is one, and ran on the CPU"
    torch: str = "PyTorch {torch}, {threads} threads"
    python: str = "Python {python}"
    when: str = "run at {when}"
    # outputs an earlier run of the page left standing (region-level reuse, local builds)
    reused: str = ("{count} outputs reused from an earlier run of the page, each checked "
                   "against the state it now runs from ({names})")
    separator: str = "; "
    language: str = "en"  # for the words tokens generate (the report, comparisons)
    notebook_note: str = ("This page is the Jupyter notebook of [{title}]({page}): the same code, "
                          "with the outputs this build recorded. [Download the notebook "
                          "({name})]({name}).")
    notebook_setup: str = ("Run this cell first: it installs what this notebook imports, at the "
                           "versions its outputs were recorded with{torch}")
    notebook_torch: str = " (PyTorch {torch})"
    # the links beside a page that has a notebook, and on the notebook's page
    notebook_download: str = "Download the notebook"
    notebook_colab: str = "Open in Colab"
    notebook_of: str = ("The Jupyter notebook of {link}: the same code, with the outputs this "
                        "build recorded.")
    notebook_stdout: str = "Output"
    notebook_stderr: str = "Standard error"
    # the live preview (``python -m d2l_compiler serve``) only
    outdated: str = ("Outdated: this code changed after the output below was recorded; it is "
                     "running again.")
    pending: str = ("This page's code changed; it is running again, and its outputs will "
                    "appear when it finishes.")
    # the same, under a preview with nothing to run the code again (plain ``mkdocs serve``)
    outdated_unbuilt: str = ("Outdated: this code changed after the output below was recorded. "
                             "Build the book (python -m d2l_compiler build) to run it again; "
                             "python -m d2l_compiler serve does so on every edit.")
    pending_unbuilt: str = ("This page's code changed; its outputs appear after a build "
                            "(python -m d2l_compiler build, or serve the book with "
                            "python -m d2l_compiler serve).")
    # numbered captions and references ({{ d2l:figure }}, {{ d2l:table }}, {{ d2l:ref }})
    figure: str = "Figure"
    table: str = "Table"
    section_ref: str = "section “{title}”"  # of a page without a number
    section_number: str = "Section {number}"
    failed: str = "The last build of this page failed; the outputs shown are from before the edit:"
    report: ReportLabels = ReportLabels()  # the execution report's words ({{ d2l:report }})
    # a device kind (PyTorch's name for it) as a reader reads it; others are shown as they are
    device_names: tuple[tuple[str, str], ...] = (("cpu", "CPU"), ("cuda", "GPU"),
                                                 ("mps", "Apple GPU (MPS)"))

    def device_name(self, device: str) -> str:
        """``device`` (``cpu``, ``cuda``) in a reader's words: ``CPU``, ``GPU``."""
        return dict(self.device_names).get(device, device)


LABELS = {
    "en": Labels(),
    # a number after Chinese text has a space before it; 不到 does not
    "zh": Labels(output="输出（这段代码运行了{time}）", seconds=" {value:.2f} 秒",
                 milliseconds=" {value:.0f} 毫秒", under_a_millisecond="不到 1 毫秒",
                 stray="其他线程的输出（由前面代码段启动的线程写出）",
                 raised="异常（本段代码有意引发）", warnings="运行时警告（构建时捕获）",
                 stamp="本页代码由构建实际运行：{parts}。", device="设备 {device}",
                 stamp_other="同一份代码也在另一种设备上运行过：{parts}。",
                 hardware="（{hardware}）", torch="PyTorch {torch}，{threads} 个线程",
                 gpus_unmet="有 GPU 时它会用 {gpus} 块 GPU，这次在 CPU 上运行",
                 python="Python {python}", when="执行于 {when}", separator="；", language="zh",
                 reused="其中 {count} 段的输出沿用自本页更早的一次运行，"
                        "已核对它们运行时的状态与现在一致（{names}）",
                 notebook_note="本页是[{title}]({page})一页导出的 Jupyter notebook：代码相同，输出来自"
                               "这次构建的记录。[下载这个 notebook（{name}）]({name})。",
                 notebook_setup="请先运行这一格：它安装本 notebook 用到的包，版本与记录这些输出时相同{torch}",
                 notebook_torch="（PyTorch {torch}）",
                 notebook_download="下载 notebook", notebook_colab="在 Colab 中打开",
                 notebook_of="本页是{link}一页导出的 Jupyter notebook：代码相同，输出来自这次构建的记录。",
                 notebook_stdout="输出", notebook_stderr="标准错误输出",
                 outdated="已过时：这段代码在下面的输出记录之后改过了，正在重新运行。",
                 pending="本页的代码改过了，正在重新运行；运行结束后这里会显示新的输出。",
                 outdated_unbuilt="已过时：这段代码在下面的输出记录之后改过了。运行 python -m "
                                  "d2l_compiler build 重新构建；用 python -m d2l_compiler serve "
                                  "预览时，每次修改都会自动重新运行。",
                 pending_unbuilt="本页的代码改过了；重新构建（python -m d2l_compiler build，或用 "
                                 "python -m d2l_compiler serve 预览）之后，这里才会显示新的输出。",
                 figure="图", table="表", section_ref="“{title}”一节", section_number="第 {number} 节",
                 failed="本页最近一次构建失败了，下面显示的仍是修改之前的输出：",
                 report=_REPORT_ZH,
                 device_names=(("cpu", "CPU"), ("cuda", "GPU"), ("mps", "Apple GPU（MPS）"))),
}


def ran_for(seconds: float, labels: Labels) -> str:
    """How long a region ran, in the words of ``labels``: ``3.34 秒``, ``75 毫秒``, ``不到 1 毫秒``
    (never ``0.000 秒``)."""
    if seconds >= 1:
        return labels.seconds.format(value=seconds)
    if seconds >= 0.0005:
        return labels.milliseconds.format(value=seconds * 1000)
    return labels.under_a_millisecond


def labels_for(name: str) -> Labels:
    """The label set ``name`` (``en`` or ``zh``)."""
    return LABELS[name]
