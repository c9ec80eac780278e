"""SASRec shapes and masking: no attention to the future or to padding."""
import pytest
import torch

from afirs_dspy.recsys.config import SASRecConfig, default_config
from afirs_dspy.recsys.model import SASRec, attention_mask
from recsys_threads import one_torch_thread  # noqa: F401 (autouse fixture)

N_ITEMS = 30


@pytest.fixture
def model():
    torch.manual_seed(0)
    return SASRec(N_ITEMS, SASRecConfig(max_len=8, hidden_size=16, n_heads=2, dropout=0.3)).eval()


def test_shapes_and_zero_output_at_padding(model):
    items = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    hidden = model(items)
    assert hidden.shape == (2, 5, 16)
    assert torch.all(hidden[0, :2] == 0) and torch.all(hidden[0, 2:].abs().sum(-1) > 0)
    assert model.item_logits(hidden[:, -1]).shape == (2, N_ITEMS + 1)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, 9, dtype=torch.long))


def test_attention_mask():
    mask = attention_mask(torch.tensor([[False, True, True]]))[0, 0]
    assert mask.tolist() == [[True, False, False], [False, True, False], [False, True, True]]


def test_future_items_do_not_change_earlier_outputs(model):
    a = torch.tensor([[0, 0, 3, 4, 5, 6]])
    b = torch.tensor([[0, 0, 3, 4, 9, 1]])
    assert torch.allclose(model(a)[0, :4], model(b)[0, :4], atol=1e-6)
    assert not torch.allclose(model(a)[0, 4:], model(b)[0, 4:])


def test_no_gradient_flows_from_the_future_or_from_padding(model):
    captured = {}

    def keep_grad(module, inputs, output):
        output.retain_grad()
        captured["embeddings"] = output

    model.emb_dropout.register_forward_hook(keep_grad)  # the embedded positions (item + position)
    hidden = model(torch.tensor([[0, 0, 3, 4, 5, 6]]))
    (hidden[0, 3] * torch.randn(16)).sum().backward()
    grad = captured["embeddings"].grad[0].abs().sum(-1)
    assert torch.all(grad[4:] == 0), "position 3 must not see positions 4 and 5"
    assert torch.all(grad[:2] == 0), "padding must not be attended to"
    assert torch.all(grad[2:4] > 0)


def test_left_padding_does_not_change_outputs(model):
    short = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[0, 0, 0, 0, 3, 4, 5]])
    assert torch.allclose(model(short)[0], model(padded)[0, 4:], atol=1e-6)


def test_padding_embedding_stays_zero_and_unused(model):
    assert torch.all(model.item_emb.weight[0] == 0)
    items = torch.tensor([[0, 0, 3, 4]])
    before = model(items)
    with torch.no_grad():
        model.pos_emb.weight[: model.max_len - 2].normal_()  # positions only padding uses
    assert torch.allclose(before, model(items), atol=1e-6)


def test_config_defaults_and_validation():
    ml = default_config("ml-latest-small")
    assert (ml.max_len, ml.windows, ml.batch_size) == (100, True, 32)
    assert not default_config("beauty").windows and not SASRecConfig().windows
    # A config saved before ``windows`` (and the refit) existed still reads, as the behaviour it was trained with.
    old = {k: v for k, v in SASRecConfig().to_dict().items() if k not in ("windows", "refit")}
    assert SASRecConfig.from_dict(old) == SASRecConfig(windows=False, refit=False)
    assert default_config("beauty").max_len == 50 and default_config("steam").max_len == 50
    assert default_config("unknown-set", seed=3).seed == 3
    assert SASRecConfig.from_dict(SASRecConfig(loss="bce").to_dict()) == SASRecConfig(loss="bce")
    assert default_config("steam").item_features and default_config("beauty").item_features
    assert not default_config("ml-latest-small").item_features and default_config("steam").refit
    with pytest.raises(ValueError):
        SASRecConfig(loss="hinge")
    with pytest.raises(ValueError):
        SASRecConfig(hidden_size=10, n_heads=3)
    with pytest.raises(ValueError, match="unknown"):
        SASRecConfig.from_dict({"hidden": 3})
