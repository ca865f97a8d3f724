"""`render_markdown`: Markdown that users write, as HTML that is safe to show."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils.safestring import SafeString

from apps.core.markdown import render_markdown


def test_it_renders_paragraphs_emphasis_and_lists() -> None:
    html = render_markdown("Restart *now*.\n\n- one\n- **two**")

    assert html == "<p>Restart <em>now</em>.</p>\n<ul>\n<li>one</li>\n<li><strong>two</strong></li>\n</ul>"


def test_it_keeps_fenced_code_blocks_with_their_text_escaped() -> None:
    html = render_markdown("```bash\nsudo systemctl restart postgresql\necho '<b>' && ls > /tmp/x\n```")

    assert html.startswith("<pre><code>")
    assert "sudo systemctl restart postgresql\necho '&lt;b&gt;' &amp;&amp; ls &gt; /tmp/x\n</code></pre>" in html


def test_it_keeps_inline_code() -> None:
    assert render_markdown("Run `pg_dump -Fc`.") == "<p>Run <code>pg_dump -Fc</code>.</p>"


def test_it_keeps_tables() -> None:
    html = render_markdown("| host | state |\n| --- | :-: |\n| web-1 | up |")

    assert "<table>" in html
    assert '<th align="center">state</th>' in html
    assert "<td>web-1</td>" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script>",
        "Before\n\n<script>alert('x')</script>\n\nAfter",
        "inline <script>alert('x')</script> script",
    ],
)
def test_it_strips_scripts_and_their_content(text: str) -> None:
    html = render_markdown(text)

    assert "<script" not in html
    assert "alert('x')" not in html


def test_it_strips_style_blocks() -> None:
    html = render_markdown("<style>body { display: none }</style>\n\nText")

    assert "<style" not in html
    assert "display: none" not in html
    assert "<p>Text</p>" in html


def test_it_strips_iframes_objects_and_forms() -> None:
    html = render_markdown(
        '<iframe src="https://evil.example.com"></iframe>\n\n<object data="x.swf"></object>\n\n'
        '<form action="https://evil.example.com"><input name="password"></form>'
    )

    for tag in ("<iframe", "<object", "<form", "<input"):
        assert tag not in html


@pytest.mark.parametrize(
    "text",
    [
        '<p onclick="alert(1)">click</p>',
        '<img src="x" onerror="alert(1)">',
        '<a href="https://example.com" onmouseover="alert(1)">hover</a>',
        '<svg onload="alert(1)"></svg>',
    ],
)
def test_it_strips_event_handlers(text: str) -> None:
    html = render_markdown(text)

    assert "alert(1)" not in html
    assert " on" not in html.lower()


@pytest.mark.parametrize(
    "text",
    [
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<a href="JaVaScRiPt:alert(1)">click</a>',
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click](vbscript:msgbox(1))",
    ],
)
def test_it_strips_dangerous_link_targets(text: str) -> None:
    html = render_markdown(text).lower()

    assert "javascript:" not in html
    assert "data:" not in html
    assert "vbscript:" not in html


def test_links_keep_safe_targets_and_get_rel_noopener() -> None:
    html = render_markdown(
        "[status](https://status.example.com) [mail](mailto:ops@example.com) [call](tel:+442079460000)"
    )

    assert '<a href="https://status.example.com" rel="noopener noreferrer nofollow">status</a>' in html
    assert '<a href="mailto:ops@example.com" rel="noopener noreferrer nofollow">mail</a>' in html
    assert '<a href="tel:+442079460000" rel="noopener noreferrer nofollow">call</a>' in html


def test_a_link_cannot_choose_its_own_target_or_rel() -> None:
    html = render_markdown('<a href="https://example.com" target="_blank" rel="opener">x</a>')

    assert "target=" not in html
    assert 'rel="opener"' not in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_images_are_not_shown() -> None:
    assert "<img" not in render_markdown("![tracking pixel](https://evil.example.com/p.gif)")


def test_empty_text_renders_nothing() -> None:
    assert render_markdown("") == ""
    assert render_markdown(None) == ""  # type: ignore[arg-type]


def test_it_is_marked_safe_for_templates() -> None:
    assert isinstance(render_markdown("*x*"), SafeString)


def test_the_markdown_filter_is_available_in_every_template() -> None:
    rendered = Template("{{ text|markdown }}").render(Context({"text": "**bold** <script>x()</script>"}))

    assert rendered == "<p><strong>bold</strong> </p>"
