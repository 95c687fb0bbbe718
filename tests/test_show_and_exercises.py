import pytest
import torch

from cnnbook.exercises import check, check_function
from cnnbook.profile import count_params
from cnnbook.show import show_source, source, summary_table


def test_source_is_the_package_code():
    text = source(count_params)
    assert text.startswith("def count_params(") and "requires_grad" in text
    shown = show_source(count_params)
    assert shown.data.startswith("```python\ndef count_params(") and shown.data.endswith("```")


def test_source_of_builtin_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot show the source"):
        source(len)


def test_check_reports_each_outcome(capsys):
    assert check(None, 3, name="q1") is False
    assert "not answered" in capsys.readouterr().out
    assert check(3, 3, name="q1") is True
    assert "correct" in capsys.readouterr().out
    assert check(4, 3, name="q1", hint="think") is False
    assert "Hint: think" in capsys.readouterr().out
    assert check((1, 2.0000000001), (1, 2.0))
    assert not check((1, 2), (1, 2, 3))
    assert check([[1.0, 2.0]], torch.tensor([[1.0, 2.0]]))
    assert not check([[1.0]], torch.tensor([[1.0, 2.0]]))
    assert check("relu", "relu") and not check("tanh", "relu")
    assert check(True, True) and not check(False, True)


def test_check_function_runs_reference_cases(capsys):
    cases = [(1, 2), (3, 4)]
    assert check_function(lambda a, b: a + b, lambda a, b: a + b, cases, name="add")
    assert "all 2 cases" in capsys.readouterr().out
    assert not check_function(lambda a, b: a * b, lambda a, b: a + b, cases)
    assert "wrong result" in capsys.readouterr().out
    assert not check_function(lambda a, b: 1 / 0, lambda a, b: a + b, cases)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not check_function(None, lambda a, b: a + b, cases)


def test_check_range_accepts_a_measured_number_in_the_range_only(capsys):
    from fractions import Fraction

    from cnnbook.exercises import check_range

    assert check_range(0.55, 0.5, 0.6, name="Ex", quantity="the accuracy")
    assert check_range(Fraction(1, 2), 0.5, 0.6, name="Ex", quantity="the accuracy")
    assert "in the range 0.50-0.60 this run lands in" in capsys.readouterr().out
    assert not check_range(0.7, 0.5, 0.6, name="Ex", quantity="the accuracy", hint="train longer")
    assert "outside 0.50-0.60" in capsys.readouterr().out
    for bad in (None, True, "0.55", 1.5, -0.1):
        assert not check_range(bad, 0.5, 0.6, name="Ex", quantity="the accuracy")


def test_check_letters_takes_a_set_or_one_letter_and_names_what_is_wrong(capsys):
    from cnnbook.exercises import check_letters

    options = {"a": "first", "b": "second", "c": "third"}
    assert check_letters({"A", "c"}, options, {"a", "c"}, name="Ex")
    assert check_letters("b", options, frozenset({"b"}), name="Ex")
    assert not check_letters({"a"}, options, {"a", "c"}, name="Ex", hint="two of them")
    assert "two of them" in capsys.readouterr().out
    assert not check_letters({"a", "z"}, options, {"a"}, name="Ex")
    assert "choose among ['a', 'b', 'c'], got ['z']" in capsys.readouterr().out
    for bad in (3, [1, "a"], {"a": 1}.values()):
        assert not check_letters(bad, options, {"a"}, name="Ex")
        assert "give a set of letters" in capsys.readouterr().out
    assert not check_letters(None, options, {"a"}, name="Ex")
    assert "not answered yet" in capsys.readouterr().out


def test_summary_table_has_a_header_and_one_row_per_result():
    table = summary_table([("params", "1,000"), ("MACs", "2 M")])
    assert table.split("\n") == ["| result | value |", "|---|---|", "| params | 1,000 |", "| MACs | 2 M |"]
    for bad in ([], [("only one",)], ["a string"]):
        with pytest.raises(ValueError, match="pairs"):
            summary_table(bad)


def test_teaching_view_keeps_the_idea_and_folds_the_class():
    from cnnbook.models.resnet import BasicBlock
    from cnnbook.show import teaching_view

    view = teaching_view(BasicBlock, ["forward"])
    assert view.startswith("class BasicBlock(nn.Module):") and "def forward(self, x" in view
    assert "# __init__ sets conv1, bn1, relu, conv2, bn2" in view
    assert "base_width" not in view and "zero_init_last" not in view  # the constructor's options stay folded
    shown = show_source(BasicBlock, "forward").data
    assert shown.startswith("```python\nclass BasicBlock") and "<details>" in shown
    assert source(BasicBlock) in shown  # the whole class, one click away


def test_folded_source_shows_only_the_whole_class_one_click_away():
    from cnnbook.models.resnet import BasicBlock

    shown = show_source(BasicBlock, folded=True).data
    assert shown.startswith("<details><summary>The whole class <code>BasicBlock</code>") and shown.endswith("</details>")
    assert source(BasicBlock) in shown and shown.count("```python") == 1
    with pytest.raises(ValueError, match="whole class"):
        show_source(BasicBlock, "forward", folded=True)
    with pytest.raises(ValueError, match="whole class"):
        show_source(count_params, folded=True)


def test_teaching_view_rejects_what_it_cannot_show():
    from cnnbook.models.resnet import BasicBlock
    from cnnbook.show import teaching_view

    with pytest.raises(ValueError, match="needs a class"):
        teaching_view(count_params, ["forward"])
    with pytest.raises(ValueError, match="cannot show"):
        teaching_view(BasicBlock, ["backward"])
    with pytest.raises(ValueError, match="cannot show"):
        teaching_view(BasicBlock, [])
