"""序列化: save the compiled model with its parameters, then load it back."""

# --8<-- [start:save]
import torch

from d2l_compiler import device, get_net, save_module

torch.manual_seed(0)
net = torch.jit.script(get_net().to(device()))
x = torch.randn(1, 512, device=device())
saved = save_module(net, 'my_mlp', x)
print(saved)
# --8<-- [end:save]
