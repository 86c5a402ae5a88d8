"""Measuring honestly, and the current compile paths: torch.compile and torch.export."""

# --8<-- [start:seed_vs_careful]
import torch

from d2l_compiler import Benchmark, device, get_net, measure_call

torch.manual_seed(0)
net = get_net().to(device()).eval()
x = torch.randn(1, 512, device=device())
with torch.no_grad():
    with Benchmark('1000 次调用') as once:
        for _ in range(1000):
            net(x)
    careful = measure_call(net, x, 'eager，torch.utils.benchmark')
once_per_call = once.seconds / 1000
print(f'Benchmark 折合每次调用 {once_per_call * 1e6:.1f} 微秒（1 个样本）')
print(f'torch.utils.benchmark 中位数 {careful.median * 1e6:.1f} 微秒'
      f'（{len(careful.seconds)} 个样本，每个样本 {careful.number} 次调用）')
ratio_to_careful = once_per_call / careful.median
# --8<-- [end:seed_vs_careful]

# --8<-- [start:compile_paths]
import torch

from d2l_compiler import compare_paths, device, get_net

torch.manual_seed(0)
net = get_net().to(device())
paths = compare_paths(net, batch_sizes=(1, 256))
print(paths)
# --8<-- [end:compile_paths]

# --8<-- [start:call_overhead]
import torch

from d2l_compiler import device, measure_call, unavailable_paths


def add_one(x):
    return x + 1


class AddOne(torch.nn.Module):  # torch.export 导出的是模块，所以再包一层
    def forward(self, x):
        return add_one(x)


x = torch.randn(1, 512, device=device())
compiled_add_one = torch.compile(add_one, dynamic=False)
compiled_add_one(x)  # 第一次调用触发编译，不计入下面的测量
# GPU 上的 AOTInductor 还需要 CUDA 工具包；没有时跳过，并说明原因
why_not = unavailable_paths(x.device, ('export_aoti',)).get('export_aoti')
if why_not is None:
    exported = torch.export.export(AddOne(), (x,))
    package = torch._inductor.aoti_compile_and_package(exported, package_path='add_one.pt2')
    aoti_add_one = torch._inductor.aoti_load_package(package)
# 编译用的后台子进程在编译结束后仍会占用 CPU，计时之前把它们关掉
torch._inductor.async_compile.shutdown_compile_workers()
plain = measure_call(add_one, x, '普通 Python 函数')
compiled = measure_call(compiled_add_one, x, 'torch.compile 之后')
overhead_us = (compiled.median - plain.median) * 1e6
print(plain)
print(compiled)
if why_not is None:
    aoti = measure_call(aoti_add_one, x, 'AOTInductor 包')
    aoti_overhead_us = (aoti.median - plain.median) * 1e6
    print(aoti)
else:
    print('跳过 AOTInductor：', why_not)
# --8<-- [end:call_overhead]
