"""The book's reference runs: every registered record, and the tools to run, check and read them.

    make record NAME=shapes10_depth     # python -m cnnbook.records shapes10_depth
    make records                        # python -m cnnbook.records --all
    python -m cnnbook.records --list    # names, chapters and claims

See :mod:`cnnbook.records.core` for what a record holds.
"""
# each module registers its records
from cnnbook.records import (alexnet, convnext, convnext_design, convnext_shifted, densenet, detection,  # noqa: F401
                             digits, efficientnet, erf, googlenet, mobilenet, project, project_pretrained, resnet,
                             shapes10, training, transfer, unet, vgg, vit, vit_patches)
from cnnbook.records.core import (RECORD_SEEDS, YARDSTICKS, Arm, Record, Reference, check_record, curves,
                                  default_path, get_record, load_record, register, registry, run_record,
                                  shapes10_data, train_arm, yardsticks)

__all__ = ["Arm", "Record", "Reference", "RECORD_SEEDS", "YARDSTICKS", "check_record", "curves", "default_path",
           "get_record", "load_record", "register", "registry", "run_record", "shapes10_data", "train_arm",
           "yardsticks"]
