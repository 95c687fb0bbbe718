"""The two page tools: plain Markdown for JupyterLab and Colab, and checks folded out of the lesson."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from fold_checks import fold, split_checks  # noqa: E402
from plain_markdown import bibliography, plain  # noqa: E402

LABELS = {"he2016deep": "He et al., 2016", "simonyan2015vgg": "Simonyan and Zisserman, 2015"}
CHAPTERS = {"06b_training": "Training a CNN"}


def test_citations_chapter_links_and_notes_become_plain_markdown():
    text = "as {cite}`he2016deep,simonyan2015vgg` showed; see {doc}`06b_training`\n\n```{note}\nOne.\n\nTwo.\n```"
    assert plain(text, LABELS, CHAPTERS) == (
        "as [He et al., 2016; Simonyan and Zisserman, 2015](#cite:he2016deep,simonyan2015vgg) showed; "
        "see [Training a CNN](06b_training.ipynb)\n\n> **Note.** One.\n>\n> Two.")
    assert plain("{cite:t}`he2016deep`", LABELS, CHAPTERS) == "[He et al., 2016](#cite:t:he2016deep)"
    assert plain("plain text", LABELS, CHAPTERS) == "plain text"


def test_unknown_citations_and_chapters_are_clear_errors():
    with pytest.raises(ValueError, match="no bibliography entry"):
        plain("{cite}`nobody1999`", LABELS, CHAPTERS)
    with pytest.raises(ValueError, match="no chapter notebook"):
        plain("{doc}`99_missing`", LABELS, CHAPTERS)


def test_the_bibliography_labels_match_the_books_author_year_style():
    labels = bibliography()
    assert labels["he2016deep"] == "He et al., 2016"
    assert labels["simonyan2015vgg"] == "Simonyan and Zisserman, 2015"
    assert labels["muller2019labelsmoothing"] == "Müller et al., 2019"  # LaTeX accents become Unicode


def test_trailing_asserts_split_off_with_their_comments():
    lesson, checks = split_checks("x = 2\nprint(x)\n# the value\nassert x == 2\nassert x > 1")
    assert lesson == "x = 2\nprint(x)" and checks == "# the value\nassert x == 2\nassert x > 1"


def test_cells_that_would_display_something_else_are_left_alone():
    assert split_checks("x = 2\nx\nassert x == 2") is None  # x would become the displayed value
    assert split_checks("assert True") is None  # nothing would be left
    assert split_checks("x = 2\nprint(x)") is None  # nothing to move
    assert split_checks("%time x = 2\nassert x") is None  # magics are not Python


def test_fold_adds_a_collapsed_checks_cell_and_skips_exercises():
    nb = {"cells": [
        {"cell_type": "code", "metadata": {}, "source": ["y = 3\n", "assert y == 3"], "outputs": []},
        {"cell_type": "code", "metadata": {}, "source": ["answer = 1\n", "assert ch07.ex1(answer)"], "outputs": []},
    ]}
    assert fold(nb) == 1
    lesson, checks, exercise = nb["cells"]
    assert lesson["source"] == ["y = 3"] and checks["source"] == ["# Checks of the numbers above\n", "assert y == 3"]
    assert checks["metadata"] == {"tags": ["hide-input"], "jupyter": {"source_hidden": True}}
    assert exercise["source"][-1] == "assert ch07.ex1(answer)"
