"""Articles (资讯, 攻略, 政策解读): written by operators, published after another editor's
review, searchable on the portal (P10, A9)."""
