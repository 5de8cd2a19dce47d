"""The input widgets: where a prompt comes from (template, upload, raw), the generation settings
and the target to explain. Each returns plain values (`PromptInputs`, `GenerationSettings`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from lib.errors import InputError
from lib.input_limits import (
    MAX_PROMPT_CHARS,
    MAX_STOP_FIELD_CHARS,
    MAX_TARGET_CHARS,
    MAX_TEMPLATE_CHARS,
    MAX_VARIABLE_VALUE_CHARS,
)
from lib.records import GenerationSettings
from lib.templates import (
    BUILTIN_TEMPLATES,
    document_variables,
    get_template,
    render_template,
    template_variables,
)
from lib.ui import common
from lib.ui.document_input import document_input

SOURCES = ("Template", "Upload .jsonl", "Raw prompt")
TARGETS = {"response": "The model's response", "row": "The row's target",
           "typed": "A target I type"}
CHAT = {"default": "Model default", "on": "On", "off": "Off"}
DEFAULT_VARIANTS = ("fewshot-mistake", "fewshot-fixed", "fewshot-constitution")


@dataclass
class PromptInputs:
    """A prompt as the inputs produced it, or the sentence saying why there is none."""

    prompt: str | None = None
    error: str | None = None
    template_id: str = ""
    template_text: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    row_target: str = ""
    source: str = ""


def _template_inputs() -> PromptInputs:

    ids = [t.id for t in BUILTIN_TEMPLATES]
    if st.session_state.get("dbg_template_id") not in ids:
        st.session_state["dbg_template_id"] = ids[0]

    def _reset() -> None:
        t = get_template(st.session_state["dbg_template_id"])
        st.session_state["dbg_template_text"] = t.text
        for k, v in t.defaults:
            st.session_state[f"dbg_var_{k}"] = v
        st.session_state["dbg_stop"] = common.encode_stop(t.stop)

    # Widgets whose value code sets take the session's value as their default too
    # (common.held explains why).
    tid = st.selectbox("Template", ids, key="dbg_template_id", on_change=_reset,
                       index=common.held_index("dbg_template_id", ids),
                       format_func=lambda i: get_template(i).title)
    tmpl = get_template(tid)
    if "dbg_template_text" not in st.session_state:
        _reset()
    st.caption(common.md_escape(tmpl.description))
    text = st.text_area("Template text (use {name} for a variable, {{ and }} for braces)",
                        value=common.held("dbg_template_text", ""), key="dbg_template_text",
                        height=220, max_chars=MAX_TEMPLATE_CHARS)
    out = PromptInputs(template_id=tid, template_text=text)
    try:
        names = template_variables(text)
    except InputError as e:
        out.error = str(e)
        return out
    defaults = tmpl.default_values()
    documents = set(document_variables(text, tmpl.document_variables))
    for name in names:
        key = f"dbg_var_{name}"
        if name in documents:  # a whole document: paste or upload .txt/.md/.pdf/.docx
            out.variables[name] = document_input(name, key=key, default=defaults.get(name, ""))
            continue
        if key not in st.session_state:
            st.session_state[key] = defaults.get(name, "")
        out.variables[name] = st.text_input(name, value=common.held(key, ""), key=key,
                                            max_chars=MAX_VARIABLE_VALUE_CHARS)
    try:
        out.prompt = render_template(text, out.variables)
    except InputError as e:
        out.error = str(e)
    return out


def _upload_inputs() -> PromptInputs:
    from lib.prompt_file import parse_prompt_file

    up = st.file_uploader("Prompt file (.jsonl: one JSON object per line with \"prompt\", "
                          "optional \"target\" and \"source\")", type=["jsonl", "json", "txt"],
                          key="dbg_upload")
    pasted = st.text_area("…or paste JSON Lines here", key="dbg_jsonl_text", height=100)
    data = up.getvalue() if up is not None else pasted.encode("utf-8")
    if not data.strip():
        return PromptInputs(error="Upload a .jsonl file or paste its lines to pick a prompt "
                                  "from it.")
    try:
        rows = parse_prompt_file(data)
    except InputError as e:
        return PromptInputs(error=str(e))
    labels = {i: r.label() for i, r in enumerate(rows)}  # invisible characters made visible
    if st.session_state.get("dbg_row", 0) >= len(rows):
        st.session_state["dbg_row"] = 0
    i = st.selectbox("Row", list(range(len(rows))), key="dbg_row", format_func=labels.get,
                     index=common.held_index("dbg_row", range(len(rows))))
    row = rows[i]
    return PromptInputs(prompt=row.prompt, row_target=row.target, source=row.source)


def prompt_inputs() -> PromptInputs:
    """Debug's prompt: the source picker, its widgets, and a preview of the prompt."""
    source = st.radio("Prompt from", SOURCES, key="dbg_source", horizontal=True,
                      index=common.held_index("dbg_source", SOURCES))
    if source == "Template":
        inputs = _template_inputs()
    elif source == "Upload .jsonl":
        inputs = _upload_inputs()
    else:
        inputs = PromptInputs(prompt=st.text_area("Prompt", value=common.held("dbg_raw", ""),
                                                  key="dbg_raw", height=200,
                                                  max_chars=MAX_PROMPT_CHARS))
    if inputs.error:
        common.show_error(inputs.error)
    elif inputs.prompt and source != "Raw prompt":
        with st.expander("Prompt preview", expanded=False):
            st.code(inputs.prompt, language=None, wrap_lines=True)
    return inputs


def generation_settings(prefix: str, *, sampling: bool) -> GenerationSettings | None:
    """Max new tokens and stop text (keys `<prefix>_max_new`, `_stop`); with `sampling` also
    decoding, chat template and seed. None (after saying why) if the values are invalid."""
    st.session_state.setdefault(f"{prefix}_max_new", 32)
    st.session_state.setdefault(f"{prefix}_stop", "\\n\\n")
    temp, top_k, seed, chat = 0.0, 0, 0, "default"
    title = "Generation settings" if sampling else (
        "Generation settings (greedy, shared by all variants)")
    with st.expander(title):
        lim = common.limits() if sampling else {}
        fit = (f" Prompt plus new tokens must fit in {lim['max_prompt_tokens']:,} tokens."
               if "max_prompt_tokens" in lim else "")
        c1, c2, c3 = st.columns(3) if sampling else (st, st, st)
        max_new = c1.number_input("Max new tokens", min_value=1,
                                  max_value=common.MAX_NEW_TOKENS, step=1,
                                  key=f"{prefix}_max_new",
                                  value=common.held(f"{prefix}_max_new", 32),
                                  help=f"1 to {common.MAX_NEW_TOKENS}.{fit}")
        if sampling:
            mode = c2.radio("Decoding", ["Greedy", "Sampling"], key=f"{prefix}_decoding",
                            horizontal=True)
            chat = c3.radio("Chat template", list(CHAT), format_func=CHAT.get,
                            key=f"{prefix}_chat", horizontal=True)
            if mode == "Sampling":
                st.session_state.setdefault(f"{prefix}_temp", 0.8)
                st.session_state.setdefault(f"{prefix}_topk", 40)
                temp = st.slider("Temperature", 0.05, 2.0, step=0.05, key=f"{prefix}_temp",
                                 value=common.held(f"{prefix}_temp", 0.8))
                top_k = st.number_input("Top-k (0 = all)", 0, 1000, key=f"{prefix}_topk",
                                        value=common.held(f"{prefix}_topk", 40))
            seed = st.number_input("Seed", 0, 2**31 - 1, key=f"{prefix}_seed")
        stop_text = st.text_input(r"Stop text (\n = new line; separate several with |)",
                                  value=common.held(f"{prefix}_stop", ""), key=f"{prefix}_stop",
                                  max_chars=MAX_STOP_FIELD_CHARS)
    try:
        return GenerationSettings(
            max_new_tokens=int(max_new), temperature=float(temp), top_k=int(top_k),
            seed=int(seed), stop=common.decode_stop(stop_text),
            chat_template=None if chat == "default" else chat == "on")
    except (TypeError, ValueError) as e:
        common.show_error(f"The generation settings are invalid ({e}); check the numbers.")
        return None


def target_choice(inputs: PromptInputs) -> tuple[str, str]:
    """What to explain: ('response', ''), ('typed', text) or ('row', the row's target)."""
    modes = ["response", "typed"] + (["row"] if inputs.row_target else [])
    if st.session_state.get("dbg_target_mode") not in modes:
        st.session_state["dbg_target_mode"] = "response"
    mode = st.radio("Explain", modes, format_func=TARGETS.get, key="dbg_target_mode",
                    index=common.held_index("dbg_target_mode", modes), horizontal=True)
    if mode == "typed":
        return mode, st.text_input("Target text (e.g. ' Avoid.')", key="dbg_typed_target",
                                   value=common.held("dbg_typed_target", ""),
                                   max_chars=MAX_TARGET_CHARS)
    if mode == "row":
        st.code(inputs.row_target, language=None, wrap_lines=True)
        return mode, inputs.row_target
    return mode, ""


def variant_inputs(n: int) -> list[PromptInputs]:
    """Compare's n template variants (keys `cmp_tpl_<i>`, `cmp_text_<i>`); their variables are
    shared (`cmp_var_<name>`): the same values go into every variant."""

    ids = [t.id for t in BUILTIN_TEMPLATES]
    cols = st.columns(n)
    texts = []
    for i in range(n):
        key = f"cmp_tpl_{i}"
        if st.session_state.get(key) not in ids:
            st.session_state[key] = DEFAULT_VARIANTS[i] if DEFAULT_VARIANTS[i] in ids else ids[0]

        def _reset(i: int = i) -> None:
            st.session_state[f"cmp_text_{i}"] = get_template(st.session_state[f"cmp_tpl_{i}"]).text

        with cols[i]:
            tid = st.selectbox(f"Variant {i + 1}", ids, key=key, on_change=_reset,
                               index=common.held_index(key, ids),
                               format_func=lambda t: get_template(t).title)
            if not st.session_state.get(f"cmp_text_{i}"):
                _reset()
            with st.expander("Edit template"):
                texts.append((tid, st.text_area("Template text", key=f"cmp_text_{i}",
                                                value=common.held(f"cmp_text_{i}", ""),
                                                height=200, max_chars=MAX_TEMPLATE_CHARS)))
    names: list[str] = []
    defaults: dict[str, str] = {}
    errors: dict[int, str] = {}
    documents: set[str] = set()
    for i, (tid, text) in enumerate(texts):
        try:
            names += [v for v in template_variables(text) if v not in names]
            documents |= set(document_variables(text, get_template(tid).document_variables))
        except InputError as e:
            errors[i] = f"Variant {i + 1}: {e}"
        defaults.update({k: v for k, v in get_template(tid).defaults if k not in defaults})
    values: dict[str, str] = {}
    if names:
        vcols = st.columns(min(len(names), 3))
        for j, name in enumerate(names):
            key = f"cmp_var_{name}"
            if name in documents:
                with vcols[j % len(vcols)]:
                    values[name] = document_input(name, key=key, default=defaults.get(name, ""))
                continue
            if key not in st.session_state:
                st.session_state[key] = defaults.get(name, "")
            values[name] = vcols[j % len(vcols)].text_input(
                name, key=key, value=common.held(key, ""), max_chars=MAX_VARIABLE_VALUE_CHARS)
    out = []
    for i, (tid, text) in enumerate(texts):
        item = PromptInputs(template_id=tid, template_text=text, error=errors.get(i))
        if item.error is None:
            try:
                item.variables = {k: values.get(k, "") for k in template_variables(text)}
                item.prompt = render_template(text, item.variables)
            except InputError as e:
                item.error = f"Variant {i + 1}: {e}"
        if item.error:
            common.show_error(item.error)
        out.append(item)
    return out
