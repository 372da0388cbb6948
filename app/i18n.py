"""The app's words in English and Chinese: every label, button and message, and the library's known
error messages translated; the language a browser asks for picks the default."""

from __future__ import annotations

import re
from collections.abc import Mapping

from rag.ingest.chunking import APPARATUS_SECTION

LANGS = ("en", "zh")
CHOICES = [("English", "en"), ("中文", "zh")]

TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "rag — cited answers over your papers", "zh": "rag —— 有出处的文献问答"},
    "header": {
        "en": "Index `{index}`: {docs} documents, {passages} passages · embedder `{embedder}` · "
        "answers quote the papers and cite every sentence.",
        "zh": "索引 `{index}`：{docs} 篇文献，{passages} 个段落 · 向量模型 `{embedder}` · 回答引用原文，每句都注明出处。",
    },
    "language": {"en": "Language", "zh": "界面语言"},
    "tab_ask": {"en": "Ask", "zh": "提问"},
    "tab_docs": {"en": "Documents", "zh": "文献库"},
    "chat_placeholder": {
        "en": "Ask in Chinese or English, e.g. 世界互联网大会国际组织总部设在哪里？ "
        "Follow-up questions keep the conversation's subject.",
        "zh": "可用中文或英文提问，例如：世界互联网大会国际组织总部设在哪里？追问会沿用对话的主题。",
    },
    "question_placeholder": {"en": "Ask about the papers…", "zh": "就这些文献提问……"},
    "ask": {"en": "Ask", "zh": "提问"},
    "top_k": {"en": "Passages to retrieve", "zh": "检索段落数"},
    "doc_filter": {"en": "Only these documents (empty: all)", "zh": "只在这些文献中查找（留空：全部）"},
    "show_scores": {"en": "Show retrieval scores", "zh": "显示检索分数"},
    "new_conversation": {"en": "New conversation", "zh": "新对话"},
    "download_md": {"en": "Download conversation (.md)", "zh": "下载对话（.md）"},
    "download_jsonl": {"en": "Download answers (.jsonl, for rag refs)", "zh": "下载回答（.jsonl，供 rag refs 使用）"},
    "style": {"en": "Reference style", "zh": "参考文献格式"},
    "copy": {"en": "Answer with references (copy)", "zh": "回答及参考文献（可复制）"},
    "page_pick": {"en": "Open a cited PDF page (the quote is marked)", "zh": "打开被引用的 PDF 页面（引文已标出）"},
    "upload": {
        "en": "Add documents (.txt, .md or .pdf, at most {mb:g} MB each): they are indexed at once and searchable "
        "when the report below appears",
        "zh": "添加文献（.txt、.md 或 .pdf，每个不超过 {mb:g} MB）：上传后立即建立索引，下方出现报告即可检索",
    },
    "refresh": {"en": "Refresh list", "zh": "刷新列表"},
    "doc_pick": {"en": "Document to edit, re-index or remove", "zh": "选择要编辑、重新索引或删除的文献"},
    "edit_title": {"en": "Title", "zh": "题名"},
    "edit_authors": {"en": "Authors (separated by ; or ,)", "zh": "作者（用 ; 或 , 分隔）"},
    "edit_year": {"en": "Year", "zh": "年份"},
    "save": {"en": "Save metadata", "zh": "保存元数据"},
    "reindex": {"en": "Re-index", "zh": "重新索引"},
    "remove": {"en": "Remove from the index", "zh": "从索引中删除"},
    "col_document": {"en": "document", "zh": "文件"},
    "col_title": {"en": "title", "zh": "题名"},
    "col_authors": {"en": "authors", "zh": "作者"},
    "col_year": {"en": "year", "zh": "年份"},
    "col_pages": {"en": "pages", "zh": "页数"},
    "col_passages": {"en": "passages", "zh": "段落"},
    "col_warnings": {"en": "parse warnings", "zh": "解析提示"},
    "col_source": {"en": "source", "zh": "来源"},
    "w_dropped": {"en": "{n}% dropped as page furniture", "zh": "{n}% 作为页眉页脚删去"},
    "w_ocr": {"en": "{n} passages read by OCR", "zh": "{n} 个段落经 OCR 识别"},
    "w_footnotes": {"en": "{n} footnotes", "zh": "{n} 条脚注"},
    "saved": {"en": "Saved the metadata of `{doc}` ({s:.1f} s).", "zh": "已保存 `{doc}` 的元数据（{s:.1f} 秒）。"},
    "reindexed": {"en": "Re-indexed `{doc}` ({s:.1f} s).", "zh": "已重新索引 `{doc}`（{s:.1f} 秒）。"},
    "removed": {"en": "Removed `{doc}` from the index ({s:.1f} s).", "zh": "已从索引中删除 `{doc}`（{s:.1f} 秒）。"},
    "empty_question": {"en": "The question is empty: type a question.", "zh": "问题是空的：请输入问题。"},
    "added": {"en": "**Added and searchable** ({s:.1f} s): ", "zh": "**已添加，可以检索**（{s:.1f} 秒）："},
    "not_added": {"en": "**Not added:** ", "zh": "**未添加：**"},
    "skipped": {"en": "skipped", "zh": "已跳过"},
    "note": {"en": "note", "zh": "注意"},
    "nothing": {"en": "Nothing to add.", "zh": "没有可添加的文件。"},
    "abstain_hint": {
        "en": "The closest passages are listed on the right for you to check; none of them answers the question.",
        "zh": "最接近的段落列在右侧，供您核对（它们都没有回答这个问题）。",
    },
    "searched_for": {"en": "searched for", "zh": "检索的是"},
    "closest_head": {
        "en": "Closest passages — none of them answers the question:",
        "zh": "最接近的段落（都没有回答这个问题）：",
    },
    "closest_n": {"en": "closest {i}", "zh": "最接近 {i}"},
    "all_retrieved": {"en": "All {n} retrieved passages", "zh": "检索到的全部 {n} 个段落"},
    "sources_empty": {
        "en": "The passages behind each answer appear here, the cited sentence highlighted. "
        "Click a [n] marker in an answer to jump to its passage.",
        "zh": "每个回答所依据的段落显示在这里，被引用的句子已高亮。点击回答中的 [n] 标记即可跳到对应段落。",
    },
    "sources_for": {"en": "Sources for Q{n}", "zh": "问题 {n} 的出处"},
    "tab_review": {"en": "Review", "zh": "综述"},
    "review_questions": {
        "en": "Review questions, one per line (e.g. How does each paper view publication bias?)",
        "zh": "综述问题，每行一个（例如：各文如何看待网络主权？）",
    },
    "review_upload": {
        "en": "…or a questions file (.txt, .csv, .xlsx, .jsonl)",
        "zh": "……或上传问题文件（.txt、.csv、.xlsx、.jsonl）",
    },
    "review_docs": {"en": "Papers to review (empty: all)", "zh": "要综述的文献（留空：全部）"},
    "review_run": {"en": "Run the review", "zh": "开始综述"},
    "review_xlsx": {"en": "Download .xlsx", "zh": "下载 .xlsx"},
    "review_md": {"en": "Download .md", "zh": "下载 .md"},
    "review_jsonl": {"en": "Download .jsonl", "zh": "下载 .jsonl"},
    "review_reading": {"en": "Reading the questions…", "zh": "正在读取问题……"},
    "reviewing": {"en": "Reviewing… {done} of {total} questions done", "zh": "正在综述……已完成 {done}/{total} 个问题"},
    "review_done": {
        "en": "**{q} questions × {p} papers**: {d} cells with points, {n} not discussed ({s:.1f} s).",
        "zh": "**{q} 个问题 × {p} 篇文献**：{d} 个单元有论点，{n} 个未讨论（{s:.1f} 秒）。",
    },
    "col_question": {"en": "question", "zh": "问题"},
    "not_discussed": {"en": "not discussed", "zh": "未讨论"},
    "nearest": {"en": "nearest sentence", "zh": "最接近的句子"},
    "page_n": {"en": "p. {p}", "zh": "第 {p} 页"},
    "went_wrong": {
        "en": "something went wrong ({kind}); the server log has the details",
        "zh": "出错了（{kind}）；详情见服务器日志",
    },
    "went_wrong_answering": {
        "en": "something went wrong while answering ({kind}); try rephrasing the question — the server log has the details",
        "zh": "回答时出错（{kind}）；请换个说法再问——详情见服务器日志",
    },
    "quote_not_found": {"en": " (the quote was not found on the page)", "zh": "（页面上没有找到引文）"},
    "tab_refs": {"en": "References", "zh": "参考文献"},
    "refs_scope": {"en": "References of", "zh": "导出哪些参考文献"},
    "scope_answer": {"en": "the latest answer", "zh": "最新的回答"},
    "scope_conversation": {"en": "the whole conversation", "zh": "整个对话"},
    "scope_review": {"en": "the latest review", "zh": "最新的综述"},
    "scope_library": {"en": "the library's papers", "zh": "文献库中的文献"},
    "scope_library_cites": {"en": "every work the library's papers cite", "zh": "文献库各文引用的全部文献"},
    "refs_format": {"en": "Format", "zh": "格式"},
    "refs_export": {"en": "Make the file", "zh": "生成文件"},
    "refs_download": {"en": "Download references", "zh": "下载参考文献"},
    "refs_ready": {"en": "{n} works in {fmt}: `{name}`", "zh": "{n} 条文献（{fmt}）：`{name}`"},
    "refs_ready_one": {"en": "1 work in {fmt}: `{name}`", "zh": "1 条文献（{fmt}）：`{name}`"},
    # the sources panel
    "sources": {"en": "Sources", "zh": "出处"},
    "show_source": {"en": "show source {n}", "zh": "显示出处 {n}"},
    "question_chars": {"en": "… ({n} characters)", "zh": "……（共 {n} 个字符）"},
    "score_sentence": {"en": "sentence {v}", "zh": "句子 {v}"},
    "score_rank": {"en": "rank {v}", "zh": "排名 {v}"},
    "score_fused": {"en": "fused {v}", "zh": "融合 {v}"},
    "score_dense": {"en": "dense {v}", "zh": "向量 {v}"},
    "score_bm25": {"en": "bm25 {v}", "zh": "关键词 {v}"},
    "th_rank": {"en": "#", "zh": "排名"},
    "th_document": {"en": "document", "zh": "文件"},
    "th_fused": {"en": "fused", "zh": "融合"},
    "th_dense": {"en": "dense", "zh": "向量"},
    "th_bm25": {"en": "bm25", "zh": "关键词"},
    "th_passage": {"en": "passage", "zh": "段落"},
    "page_mark": {"en": ", p. {p}", "zh": "，第 {p} 页"},
    "pages_mark": {"en": ", pp. {p}", "zh": "，第 {p} 页"},
    # the conversation as downloaded (Markdown) and the copy text
    "md_title": {"en": "# Conversation with rag", "zh": "# 与 rag 的对话"},
    "md_index": {
        "en": "Index `{index}` ({n} documents) · exported {when}",
        "zh": "索引 `{index}`（{n} 篇文献）· 导出于 {when}",
    },
    "md_q": {"en": "Q{n}", "zh": "问{n}"},
    "md_searched": {"en": "*searched for: {q}*", "zh": "*检索的是：{q}*"},
    "md_closest": {"en": "Closest passages (none answers the question):", "zh": "最接近的段落（都没有回答这个问题）："},
    "md_sources": {"en": "Sources:", "zh": "出处："},
    "md_references": {"en": "## References", "zh": "## 参考文献"},
    "md_cited_in": {"en": " — cited in {where}", "zh": " —— 引用于 {where}"},
    "copy_sources": {"en": "Sources", "zh": "出处"},
    "copy_section": {"en": "    section: {s}", "zh": "    章节：{s}"},
    "copy_page": {"en": "    page: {p}", "zh": "    页码：{p}"},
    "warning": {"en": "Warning", "zh": "提示"},
    "src_text": {"en": "text", "zh": "文本"},
    "src_uploaded": {"en": "uploaded", "zh": "已上传"},
    "src_edited": {"en": "edited", "zh": "已编辑"},
    "copy_quote": {"en": "    quote: “{q}”", "zh": "    引文：“{q}”"},
    "copy_rests_on": {"en": "    rests on ref. {n}: {raw}", "zh": "    依据参考文献 {n}：{raw}"},
    # the Documents tab's citation view
    "cites_head": {"en": "### Citations within the library", "zh": "### 文献库内的引用"},
    "cites_line": {
        "en": "- **{doc}**: {refs} references; cites {cites}; cited by {by}",
        "zh": "- **{doc}**：{refs} 条参考文献；引用了 {cites}；被 {by} 引用",
    },
    "cites_none": {"en": "no document of the library", "zh": "（文献库中没有）"},
    "cited_by_none": {"en": "none", "zh": "（无）"},
    "outside_head": {"en": "### Most-cited works outside the library", "zh": "### 文献库之外被引最多的文献"},
    "outside_line": {"en": "{i}. {title}{year} — cited {n}×", "zh": "{i}. {title}{year} —— 被引 {n} 次"},
}

# the library's messages a user meets in the app, in Chinese (anything else is shown as the library wrote it)
_MESSAGES_ZH: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^the question is empty; type a question$"), "问题是空的；请输入问题"),
    (
        re.compile(r"^the question has no words in it .*$"),
        "问题中没有文字（只有标点、符号或不可见字符）；请输入问题",
    ),
    (
        re.compile(r"^the question is (\d+) characters long; keep it under (\d+)$"),
        r"问题有 \1 个字符；请控制在 \2 个以内",
    ),
    (re.compile(r"^pick a document of the index first$"), "请先选择索引中的一篇文献"),
    (
        re.compile(r"^k \(passages to retrieve\) must be a whole number from (\d+) to (\d+), got (.*)$"),
        r"k（检索段落数）必须是 \1 到 \2 之间的整数，而不是 \3",
    ),
    (
        re.compile(r"^none of the selected documents is in the index; .*$"),
        "所选文献都不在索引中；请从文献列表中选择",
    ),
    (re.compile(r"^the year must be four digits, like 2021, not (.*)$"), r"年份必须是四位数字，例如 2021，而不是 \1"),
    (
        re.compile(r"^removing every document would leave index '(.*)' empty; .*$"),
        r"删除全部文献会使索引“\1”为空；请改为删除整个索引文件夹",
    ),
    (re.compile(r"^duplicate of `(.*)` \(same DOI (.*)\)$"), r"与 `\1` 重复（DOI 相同：\2）"),
    (re.compile(r"^duplicate of `(.*)` \(same title and year\)$"), r"与 `\1` 重复（题名和年份相同）"),
    (
        re.compile(r"^duplicate of `(.*)` \(near-identical text \(similarity (.*)\)\)$"),
        r"与 `\1` 重复（正文几乎相同，相似度 \2）",
    ),
    (re.compile(r"^already in the index as `(.*)`$"), r"索引中已有此文件：`\1`"),
    (re.compile(r"^binary file \(contains NUL bytes\)$"), "二进制文件（含 NUL 字节）"),
    (
        re.compile(r"^unsupported type '(.*)' \(use \.txt, \.md or \.pdf\)$"),
        r"不支持的类型“\1”（请用 .txt、.md 或 .pdf）",
    ),
    (
        re.compile(r"^no review questions: .*$"),
        "没有综述问题：请每行粘贴一个问题，或上传问题文件",
    ),
    (re.compile(r"^no usable questions.*$"), "没有可用的问题：每行（或每个“question”列单元格）一个问题"),
    (
        re.compile(r"^cannot read questions from '(.*)' files; .*$"),
        r"无法读取“\1”文件中的问题；请用 .txt、.csv、.xlsx 或 .jsonl",
    ),
    (re.compile(r"^no answer with sources yet; .*$"), "还没有带出处的回答；请先在“提问”页提问"),
    (re.compile(r"^no review yet; .*$"), "还没有综述；请先在“综述”页运行一次"),
    (re.compile(r"^the library's papers have no reference lists .*$"), "索引未能读出文献库各文的参考文献表"),
    (re.compile(r"^(.*) is over the (.*) upload limit$"), r"\1 超过了 \2 的上传上限"),
    (re.compile(r"^not a PDF file \(no %PDF header\)$"), "不是 PDF 文件（没有 %PDF 文件头）"),
    (re.compile(r"^the upload did not arrive; try again$"), "上传没有完成；请重试"),
    (
        re.compile(r"^`(.*)` has no pages to show \(only PDFs of this index do\)$"),
        r"`\1` 没有可显示的页面（只有本索引中的 PDF 才有）",
    ),
    (re.compile(r"^the source of `(.*)` is gone from (.*); re-index it$"), r"`\1` 的源文件已不在 \2；请重新索引"),
    (
        re.compile(r"^`(.*)` changed since it was indexed; re-index it to open its pages$"),
        r"`\1` 在建立索引后已被修改；请重新索引后再打开页面",
    ),
    (re.compile(r"^cannot render page (\d+) of `(.*)` \((.*)\)$"), r"无法渲染 `\2` 的第 \1 页（\3）"),
    (re.compile(r"^not in the index: (.*); pick documents from `rag info`$"), r"索引中没有：\1；请从文献列表中选择"),
    (re.compile(r"^indexing failed \((.*)\); the index is unchanged$"), r"建立索引失败（\1）；索引没有改变"),
    (
        re.compile(r"^the sources of (\d+) indexed documents are missing \(e\.g\. (.*)\); .*$"),
        r"已索引文献中有 \1 篇的源文件不见了（例如 \2）；请用 rag index PATH 重建索引",
    ),
    (
        re.compile(r"^the source of `(.*)` is gone from (.*); it cannot be re-read$"),
        r"`\1` 的源文件已不在 \2；无法重新读取",
    ),
    (re.compile(r"^unknown set of references (.*); pick one of: (.*)$"), r"未知的参考文献范围 \1；可选：\2"),
    (re.compile(r"^unknown format (.*); use one of: (.*)$"), r"未知的格式 \1；可选：\2"),
    (
        re.compile(r"^no document '(.*)' in index '(.*)' \(it has e\.g\. (.*)\); .*$"),
        r"索引“\2”中没有文献“\1”（例如有：\3）",
    ),
    (
        re.compile(r"^the metadata edits file (.*) cannot be read \((.*)\); fix or delete it$"),
        r"元数据修改文件 \1 无法读取（\2）；请修正或删除它",
    ),
    # why a file was skipped (rag.ingest.loading, rag.ingest.pdf_guard)
    (re.compile(r"^unknown text encoding \(save it as UTF-8\)$"), "无法识别的文本编码（请另存为 UTF-8）"),
    (re.compile(r"^binary file \(control characters\)$"), "二进制文件（含控制字符）"),
    (
        re.compile(r"^PDF has no text: no text layer, and OCR found none on its pages(.*)$"),
        r"PDF 中没有文字：既无文字层，OCR 也未识别出文字\1",
    ),
    (re.compile(r"^cannot read \((.*)\)$"), r"无法读取（\1）"),
    (re.compile(r"^empty file$"), "空文件"),
    (
        re.compile(r"^unreadable PDF: the file is damaged or incomplete; download or export it again$"),
        "无法读取的 PDF：文件已损坏或不完整；请重新下载或导出",
    ),
    (re.compile(r"^password-protected PDF; .*$"), "PDF 有密码保护；请另存一份无密码的副本再添加"),
    (
        re.compile(r"^PDF has (\d+) pages, more than (\d+); .*$"),
        r"PDF 有 \1 页，超过上限 \2 页；未读取（可调高 RAG_PDF_MAX_PAGES）",
    ),
    (
        re.compile(r"^compressed stream inflates to over (.*) MB \(a compression bomb\?\); .*$"),
        r"压缩流解压后超过 \1 MB（疑似压缩炸弹）；未读取（可调高 RAG_PDF_MAX_STREAM_MB）",
    ),
    (re.compile(r"^its streams inflate to over (.*) MB; .*$"), r"各数据流解压后超过 \1 MB；未读取"),
    # notes on how a document was read (shown under an upload)
    (
        re.compile(r"^(.*?)page (\d+) is (.*) x (.*) in; OCR read it at (.*) dpi to stay under (.*) Mpx .*$"),
        r"\1第 \2 页为 \3 × \4 英寸；为不超过 \6 百万像素，OCR 以 \5 dpi 识别",
    ),
    (
        re.compile(
            r"^(.*): (\d+) running header/footer or page-number line\(s\) \((.*) of (.*) characters\) left out .*$"
        ),
        r"\1：\2 行页眉、页脚或页码（\4 个字符中的 \3 个）作为页面装饰删去",
    ),
    (
        re.compile(r"^(.*): (.*) of its text \((.*) of (.*) characters\) was left out as page furniture .*$"),
        r"\1：\2 的文字（\4 个字符中的 \3 个）作为页面装饰（页码、页眉、重复 3 次以上的行）删去",
    ),
]

# the stages long work reports (adding, editing, re-indexing documents), for the progress bar
_STAGES_ZH = {
    "checking files": "正在检查文件",
    "reading documents": "正在读取文献",
    "embedding": "正在计算向量",
    "building dense index": "正在建立向量索引",
    "indexing BM25": "正在建立关键词索引",
    "writing index": "正在写入索引",
    "done": "完成",
}
_STAGE_PATTERNS_ZH = [(re.compile(r"^reading (.+)$"), r"正在读取 \1"), (re.compile(r"^OCR (.+)$"), r"正在 OCR 识别 \1")]


def t(lang: str, key: str, **values) -> str:
    """The text of ``key`` in ``lang`` (English when the language is unknown), with ``values`` filled in."""
    entry = TEXT[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def message(lang: str, text: str) -> str:
    """A library message (an error, a skip reason) in ``lang``."""
    if lang != "zh":
        return text
    for pattern, zh in _MESSAGES_ZH:
        if pattern.match(text):
            return pattern.sub(zh, text)
    return text


def stage(lang: str, label: str) -> str:
    """A progress label (a stage of long work, e.g. "embedding") in ``lang``."""
    if lang != "zh":
        return label
    if label in _STAGES_ZH:
        return _STAGES_ZH[label]
    for pattern, zh in _STAGE_PATTERNS_ZH:
        if pattern.match(label):
            return pattern.sub(zh, label)
    return label


def shown_section(section: str, lang: str) -> str:
    """A section label in ``lang``: of a bilingual label the index gives a page's apparatus ("Front matter /
    首页信息"), the side in that language; any other section as the paper names it."""
    for label in APPARATUS_SECTION.values():
        if section == label or section.startswith(label + " / "):
            en, _, zh = label.partition(" / ")
            return (zh if lang == "zh" else en) + section[len(label) :]
    return section


def where(p: Mapping, lang: str) -> str:
    """Where a review point or nearest sentence sits, in ``lang``: its page and section ("p. 3, §Methods")."""
    bits = [
        t(lang, "page_n", p=p["page"]) if p.get("page") else "",
        f"§{shown_section(p['section'], lang)}" if p.get("section") else "",
    ]
    return ", ".join(b for b in bits if b)


def browser_language(accept_language: str | None) -> str:
    """The interface language for a browser's Accept-Language header: Chinese when the first language it
    names is a Chinese one, else English."""
    first = (accept_language or "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


def pick(lang: object) -> str:
    """A supported language code ("en" for anything else)."""
    return lang if isinstance(lang, str) and lang in LANGS else "en"
