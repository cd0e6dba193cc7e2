"""The platform's published legal texts (用户协议, 隐私政策, 排序规则, 个人信息单独同意书):
built from the code and data they describe, frozen as numbered versions when they change."""
