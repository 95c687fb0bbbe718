"""Chapter 11's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import torch

from cnnbook.exercises import ch11


def test_ex1_tokens_of_vit_l_16_at_384():
    assert ch11.ex1(24 * 24 + 1) and ch11.ex1(577)
    assert not ch11.ex1(576)  # forgets the class token
    assert not ch11.ex1(197)  # the 224 px count
    assert not ch11.ex1(None)


def test_ex2_encoder_block_params():
    def right(e, m):
        return (4 * e * e + 4 * e) + (2 * e * m + m + e) + 4 * e

    def no_biases(e, m):
        return 4 * e * e + 2 * e * m + 4 * e

    def one_norm(e, m):
        return (4 * e * e + 4 * e) + (2 * e * m + m + e) + 2 * e

    assert right(768, 3072) == 7_087_872  # ViT-B/16's 12 blocks hold 85,054,464 of its 86,567,656
    assert ch11.ex2(right)
    assert not ch11.ex2(no_biases)
    assert not ch11.ex2(one_norm)
    assert not ch11.ex2(None)


def test_ex3_attention_product_macs():
    length = 24 * 24 + 1
    assert ch11.ex3(12 * 2 * length * length * 768)
    assert not ch11.ex3(12 * 2 * 576 * 576 * 768)  # without the class token
    assert not ch11.ex3(12 * length * length * 768)  # only QK^T
    assert not ch11.ex3(12 * 2 * length * length * 64)  # one head
    assert not ch11.ex3(None)


def test_ex4_cls_rollout():
    def right(maps):
        length = maps[0].shape[-1]
        out = torch.eye(length).expand(maps[0].shape[0], -1, -1)
        for w in maps:
            out = (w.mean(1) + torch.eye(length)) / 2 @ out
        return out[:, 0]

    def wrong_order(maps):
        length = maps[0].shape[-1]
        out = torch.eye(length).expand(maps[0].shape[0], -1, -1)
        for w in maps:
            out = out @ ((w.mean(1) + torch.eye(length)) / 2)
        return out[:, 0]

    def no_residual(maps):
        out = maps[0].mean(1)
        for w in maps[1:]:
            out = w.mean(1) @ out
        return out[:, 0]

    def crashes(maps):
        raise RuntimeError("boom")

    assert ch11.ex4(right)
    assert not ch11.ex4(wrong_order)
    assert not ch11.ex4(no_residual)
    assert not ch11.ex4(crashes)
    assert not ch11.ex4(None)
