# --8<-- [start:define]
from functools import lru_cache


@lru_cache(maxsize=None)
def fib(n: int) -> int:
    """The n-th Fibonacci number (fib(0) = 0)."""
    if n < 0:
        raise ValueError(f"fib is not defined for {n}")
    return n if n < 2 else fib(n - 1) + fib(n - 2)
# --8<-- [end:define]

# --8<-- [start:table]
numbers = [fib(n) for n in range(21)]
print(numbers)
twentieth = numbers[20]
ratio = numbers[20] / numbers[19]
# --8<-- [end:table]

# --8<-- [start:negative]
# raises: ValueError
from functools import lru_cache


@lru_cache(maxsize=None)
def fib(n: int) -> int:
    if n < 0:
        raise ValueError(f"fib is not defined for {n}")
    return n if n < 2 else fib(n - 1) + fib(n - 2)


fib(-1)
# --8<-- [end:negative]
