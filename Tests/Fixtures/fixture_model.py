"""What make_fewstep_vectors.py and make_prediction_vectors.py share: the fake model the
Swift tests compute too (FewStepSamplerTests.fakeModel), and tensors as flat float lists."""
import torch


def fake_model(x, t):
    """out(x, t) = 0.8 tanh(x) cos(0.003 t) + 0.05 x in float32."""
    t = torch.as_tensor(t, dtype=torch.float32)
    return 0.8 * torch.tanh(x) * torch.cos(0.003 * t) + 0.05 * x


def flat(t):
    return [float(v) for v in t.detach().to(torch.float32).reshape(-1)]
