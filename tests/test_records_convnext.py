"""Chapter 12's record of the ladder's rungs on standardised images."""
from cnnbook.records import get_record
from cnnbook.records.convnext import INPUT_RUNGS, LADDER, RECIPE, input_arm_name, rung_arm_name, rungs


def test_the_convnext_input_record_repeats_the_ladders_rungs_on_standardised_images():
    record, names = get_record("convnext_inputs"), [name for name, _ in rungs()]
    for i in INPUT_RUNGS:
        arm, twin = record.arm(input_arm_name(i, names[i])), LADDER.arm(rung_arm_name(i, names[i]))
        assert arm.data == "std" and twin.data == "raw" and arm.recipe == twin.recipe == RECIPE
    assert [a.name for a in record.arms if a.yardstick] == [a.name for a in LADDER.arms if a.yardstick]
    assert [a.name for a in record.arms if a.live] == ["ConvNeXt-T rung (small)"]
