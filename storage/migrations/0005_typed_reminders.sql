-- Rule titles in two languages (default rules have both; an administrator's title is one), and
-- each delivery's message kind stored instead of guessed from the keys of its body.

ALTER TABLE reminder_rules RENAME COLUMN title TO title_zh;
ALTER TABLE reminder_rules ADD COLUMN title_en TEXT CHECK (title_en IS NULL OR length(title_en) <= 200);

-- Default rules were stored as "中文 English": split them once.
UPDATE reminder_rules
   SET title_en = substr(title_zh, instr(title_zh, ' ') + 1),
       title_zh = substr(title_zh, 1, instr(title_zh, ' ') - 1)
 WHERE created_by_label = 'default' AND instr(title_zh, ' ') > 1;

ALTER TABLE deliveries ADD COLUMN message TEXT NOT NULL DEFAULT 'reminder'
    CHECK (message IN ('reminder', 'escalation', 'special_check', 'blocked', 'disclosure_due',
                       'disclosure_overdue', 'disclosure_summary'));

UPDATE deliveries SET message = CASE
    WHEN json_extract(body, '$.village') IS NOT NULL THEN 'disclosure_due'
    WHEN json_extract(body, '$.villages') IS NOT NULL THEN 'disclosure_overdue'
    WHEN json_extract(body, '$.summary') IS NOT NULL THEN 'disclosure_summary'
    WHEN json_extract(body, '$.blocked') IS NOT NULL THEN 'blocked'
    WHEN kind = 'warning' THEN 'special_check'
    WHEN kind = 'escalation' THEN 'escalation'
    ELSE 'reminder' END;
