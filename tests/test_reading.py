"""fmnist_rnn.reading: the animation's page works without a network."""

from __future__ import annotations

import re

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.animation import FuncAnimation

from fmnist_rnn import reading

matplotlib.use("Agg")


def test_offline_html_fetches_nothing_and_labels_every_button() -> None:
    fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
    (line,) = ax.plot([0, 1], [0, 0])
    animation = FuncAnimation(fig, lambda k: line.set_ydata([k, k]), frames=range(2))
    html = reading.offline_html(animation, default_mode="once")
    plt.close(fig)
    assert not re.search(r"""(href|src)=["']?(https?:)?//""", html)
    assert 'class="fa' not in html
    buttons = re.findall(r"<button[^>]*>(.*?)</button>", html, flags=re.DOTALL)
    assert len(buttons) == 9 and all(text.strip() for text in buttons)
