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

# --8<-- [start:profile_call]
import re

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from d2l_compiler import device, get_net, make_path, unavailable_paths
from d2l_compiler.paths import LABELS

OUTSIDE = '（不属于任何事件）'


def profile_per_call(fn, x, calls=200):
    """剖析 calls 次调用，返回 {事件名: 平均每次调用花在这个事件自身上的 CPU 时间（微秒）}。

    每次调用都包在“一次调用”事件里，它的自身时间就是不属于任何更细事件的那部分。"""
    with torch.no_grad():
        for _ in range(20):  # 预热
            fn(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(calls):
                with record_function('一次调用'):
                    fn(x)
    times = {}
    for event in prof.key_averages():
        # 编译出的图的事件名里带着哈希，每次编译都不同，去掉它
        name = re.sub(r'## Call CompiledFxGraph \w+ ##', 'Call CompiledFxGraph', event.key)
        times[OUTSIDE if name == '一次调用' else name] = event.self_cpu_time_total / calls
    return dict(sorted(times.items(), key=lambda item: -item[1]))


torch.manual_seed(0)
net = get_net().to(device()).eval()
x = torch.randn(1, 512, device=device())
names = ['eager', 'compile', 'export_aoti']  # 与上表同样的转换和设置
names = [n for n in names if n not in unavailable_paths(x.device, tuple(names))]
runnables = {}
with torch.no_grad():
    for name in names:
        runnables[name], _ = make_path(name, net, x, '.')
        runnables[name](x)  # 第一次调用（torch.compile 在这时编译）不计入剖析
torch._inductor.async_compile.shutdown_compile_workers()  # 理由见前文
profiles = {name: profile_per_call(fn, x) for name, fn in runnables.items()}
for name, times in profiles.items():
    print(f'{LABELS[name]}：每次调用的 CPU 时间共 {sum(times.values()):.1f} 微秒（含剖析器的开销）')
    for event, us in times.items():
        if us >= 1:
            print(f'  {us:6.1f} 微秒  {event}')

# 正文里的结论读自下面这些数字
eager_times, compiled_times = profiles['eager'], profiles['compile']
runtime_us = sum(us for event, us in compiled_times.items() if not event.startswith('aten::')
                 and event != OUTSIDE)  # torch.compile 运行时自己的各个事件
guard_us = compiled_times.get('TorchDynamo Cache Lookup', 0.0)
eager_matmul_us = eager_times.get('aten::addmm', 0.0)
compiled_matmul_us = compiled_times.get('aten::addmm', 0.0)
eager_matmul_share = eager_matmul_us / sum(eager_times.values())
if 0 < compiled_matmul_us and abs(compiled_matmul_us - eager_matmul_us) <= 0.2 * eager_matmul_us:
    matmul_verdict = '两者相差不到两成，可见编译后的图仍然调用 PyTorch 自带的矩阵乘法，这部分时间省不下来'
else:
    matmul_verdict = '两者相差超过两成，可见编译改变了矩阵乘法的做法'
if 'export_aoti' in profiles:
    aoti_times = profiles['export_aoti']
    aoti_outside_share = aoti_times[OUTSIDE] / sum(aoti_times.values())
    aoti_note = (f'AOTInductor 每次调用有 {aoti_outside_share:.0%} 的 CPU 时间不属于任何事件。'
                 '这是因为它的包里是编译器生成的 C++ 代码，直接调用计算内核，剖析器无从细分')
else:
    aoti_note = 'AOTInductor 在这台设备上运行不了，所以没有剖析它'
# --8<-- [end:profile_call]
