"""How an arrival's received time was found (the ledger's `received_rule`), in the clerk's words: the
history, the master workbook's 文件记录 and the receipts say which clock decided a file's timeliness."""

RULE_LABELS = {
    "watcher_event": "监视程序发现文件的时间",
    "inbox_ctime": "文件放入收件箱的时间",
    "inbox_scan": "上次检查收件箱时还没有这个文件：按发现它的那次检查的时间",
    "clerk": "经办人指定的时间",
    "email_received": "本局邮件服务器收到的时间",
    "email_date": "邮件的发送时间",
    "email_arrival": "邮件放入收件箱的时间",
    "imap_internaldate": "本局邮箱服务器收到邮件的时间",
    "demo_script": "演示脚本设定的时间",
}
