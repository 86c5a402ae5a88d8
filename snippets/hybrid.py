"""PyTorch 的混合式编程：把命令式写成的模型转换成 TorchScript 计算图。"""

# --8<-- [start:net]
import torch

from d2l_compiler import device, get_net

torch.manual_seed(0)
net = get_net().to(device())
x = torch.randn(1, 512, device=device())
print(net(x))
# --8<-- [end:net]

# --8<-- [start:script]
import torch

from d2l_compiler import device, get_net

torch.manual_seed(0)
net = get_net().to(device())
x = torch.randn(1, 512, device=device())
scripted_net = torch.jit.script(net)  # 新版 PyTorch 已弃用 TorchScript，但仍可运行
print(scripted_net(x))
outputs_equal = torch.allclose(net(x), scripted_net(x))
print('输出相同:', outputs_equal)
# --8<-- [end:script]

# --8<-- [start:benchmark]
import torch

from d2l_compiler import Benchmark, device, get_net

torch.manual_seed(0)
net = get_net().to(device())
x = torch.randn(1, 512, device=device())
scripted_net = torch.jit.script(net)

with Benchmark('无torchscript') as eager_once:
    for _ in range(1000):
        net(x)

with Benchmark('有torchscript') as scripted_once:
    for _ in range(1000):
        scripted_net(x)
# --8<-- [end:benchmark]

# --8<-- [start:benchmark_repeated]
import torch

from d2l_compiler import device, get_net, measure_many

torch.manual_seed(0)
net = get_net().to(device())
x = torch.randn(1, 512, device=device())
scripted_net = torch.jit.script(net)

# 先热身 1 轮，再测 15 轮；每次 measure_many 里的两种情形交替测量：A、B、A、B……
# 写成 (模型, 输入)，measure_many 会记下测的是什么，页面上别处再测同一个量时可以对照
timings = measure_many({'不用 TorchScript': (net, x),
                        '用 TorchScript': (scripted_net, x)},
                       number=1000, repeats=15, warmup=1)
with torch.no_grad():  # 关闭自动求导：本节后面的表格都在这种条件下测量
    no_grad = measure_many({'不用 TorchScript、关闭自动求导': (net, x),
                            '用 TorchScript、关闭自动求导': (scripted_net, x)},
                           number=1000, repeats=15, warmup=1)
eager, scripted = timings['不用 TorchScript'], timings['用 TorchScript']
eager_no_grad = no_grad['不用 TorchScript、关闭自动求导']
scripted_no_grad = no_grad['用 TorchScript、关闭自动求导']
for samples in (eager, scripted, eager_no_grad, scripted_no_grad):
    print(samples)
# --8<-- [end:benchmark_repeated]
