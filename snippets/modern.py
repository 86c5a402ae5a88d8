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

from d2l_compiler import device, get_net, unavailable_paths

CALLS = 200  # 每种调用剖析的次数
OUTSIDE = '（不在任何事件里）'


def short_name(event):
    """事件名里编译出的图的哈希每次编译都不同，去掉它。"""
    return re.sub(r'## Call CompiledFxGraph \w+ ##', 'Call CompiledFxGraph', event)


def profile_per_call(fn, x):
    """用 torch.profiler 剖析 CALLS 次调用，返回 [(事件名, 平均每次调用的自身耗时，微秒)]。

    每次调用都包在一个名为“一次调用”的事件里：它的自身耗时就是不属于任何更细事件的部分，
    例如 Python 代码，或者不经过 PyTorch 算子调度、由编译器直接生成的内核。"""
    activities = [ProfilerActivity.CPU]
    if x.is_cuda:
        activities.append(ProfilerActivity.CUDA)
    with torch.no_grad():
        for _ in range(20):  # 预热
            fn(x)
        with profile(activities=activities) as prof:
            for _ in range(CALLS):
                with record_function('一次调用'):
                    fn(x)
    events = [(OUTSIDE if e.key == '一次调用' else short_name(e.key), e.self_cpu_time_total / CALLS)
              for e in prof.key_averages()]
    return sorted(events, key=lambda event: -event[1])


def show(title, events, at_least_us=0.5):
    total = sum(us for _, us in events)
    print(f'{title}：每次调用共 {total:.1f} 微秒（剖析器自身的开销在内）')
    for name, us in events:
        if us >= at_least_us:
            print(f'  {us:7.1f} 微秒  {name}')


torch.manual_seed(0)
net = get_net().to(device()).eval()
x = torch.randn(1, 512, device=device())
compiled_net = torch.compile(net)
with torch.no_grad():
    compiled_net(x)  # 编译，不计入剖析
calls = {'eager': net, 'torch.compile': compiled_net}
if 'export_aoti' not in unavailable_paths(x.device, ('export_aoti',)):
    with torch.no_grad():
        exported_net = torch.export.export(net, (x,))
    net_package = torch._inductor.aoti_compile_and_package(exported_net, package_path='mlp.pt2')
    calls['AOTInductor'] = torch._inductor.aoti_load_package(net_package)
torch._inductor.async_compile.shutdown_compile_workers()  # 理由同上一段代码
profiles = {name: profile_per_call(fn, x) for name, fn in calls.items()}
for name, events in profiles.items():
    show(name, events)


def per_call_us(name, words):
    """name 的剖析里，事件名含有 words 中任一项的那些事件的自身耗时之和（微秒）。"""
    return sum(us for event, us in profiles[name] if any(w in event for w in words))


guard_us = per_call_us('torch.compile', ('Cache Lookup',))
wrappers_us = per_call_us('torch.compile', ('Cache Lookup', 'Pregraph', 'Compiled Region',
                                            'CompiledFxGraph', 'Runtime Wrapper'))
eager_matmul_us = per_call_us('eager', ('aten::addmm', 'aten::mm'))
compiled_matmul_us = per_call_us('torch.compile', ('aten::addmm', 'aten::mm'))
eager_matmul_share = eager_matmul_us / sum(us for _, us in profiles['eager'])
# 用量得的数字下结论：两者相差不到两成，才说“接近”
if compiled_matmul_us == 0:
    matmul_verdict = '编译后的图不再调用 aten::addmm，矩阵乘法改由编译器生成的代码完成'
elif abs(compiled_matmul_us - eager_matmul_us) <= 0.2 * eager_matmul_us:
    matmul_verdict = ('两者接近：编译后的图仍然调用 PyTorch 自带的矩阵乘法，这部分时间省不下来，'
                      '多出来的只有运行时的那几个阶段')
else:
    matmul_verdict = '两者相差超过两成：编译后的图虽然也调用 aten::addmm，花的时间却不一样'
if 'AOTInductor' in profiles:
    aoti_outside_share = dict(profiles['AOTInductor'])[OUTSIDE] / sum(
        us for _, us in profiles['AOTInductor'])
    aoti_note = (f'AOTInductor 每次调用有 {aoti_outside_share:.0%} 的时间不在任何事件里：'
                 '包里是编译器生成的 C++ 代码，它直接调用计算内核，剖析器分不出其中的步骤')
else:
    aoti_note = 'AOTInductor 在这台设备上运行不了（原因见上一段代码的输出），所以没有剖析它'
# --8<-- [end:profile_call]
