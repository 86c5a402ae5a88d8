# --8<-- [start:load]
import csv

# the path a reader uses from the book's folder: the build reads the same file
with open("data/temps.csv", newline="") as file:
    rows = list(csv.DictReader(file))
highs = [int(row["high"]) for row in rows]
len(rows), highs
# --8<-- [end:load]

# --8<-- [start:mean_stdlib]
import statistics

mean_high = statistics.fmean(highs)
print(f"mean high: {mean_high:.1f} °C")
# --8<-- [end:mean_stdlib]

# --8<-- [start:mean_by_hand]
mean_high = sum(highs) / len(highs)
print(f"mean high: {mean_high:.1f} °C")
# --8<-- [end:mean_by_hand]

# --8<-- [start:plot]
import matplotlib.pyplot as plt

days = [row["day"] for row in rows]
lows = [int(row["low"]) for row in rows]
figure, axes = plt.subplots(figsize=(5, 3))
axes.plot(days, highs, marker="o", label="high")
axes.plot(days, lows, marker="o", label="low")
axes.set_ylabel("°C")
axes.set_title("Daily temperatures")
axes.legend()
# --8<-- [end:plot]

# --8<-- [start:warmest]
warmest = max(rows, key=lambda row: int(row["high"]))["day"]
warmest
# --8<-- [end:warmest]

# --8<-- [start:spread]
import statistics


class Summary:
    """A small table that shows itself as HTML, as a notebook shows a DataFrame."""

    def __init__(self, values):
        self.values = values

    def _repr_html_(self):
        mean = statistics.fmean(self.values)
        spread = statistics.pstdev(self.values)
        return ("<table><tr><th>mean</th><th>spread</th></tr>"
                f"<tr><td>{mean:.1f} °C</td><td>{spread:.1f} °C</td></tr></table>")


display(Summary(highs))
spread_high = statistics.pstdev(highs)
# --8<-- [end:spread]
