-- new_mail.sql - the table spoolerd's MySQL/SQL processor writes: one row
-- per recipient. The seed's columns (charset, delivered, attach_info,
-- dkim_valid) and go-guerrilla's later ones (message_id, reply_to,
-- sender, return_path, is_tls, ip_addr as VARBINARY(16): INET6_NTOA()
-- reads it). Every column spoolerd does not write has a default.
--
-- `hash` is UNIQUE: each recipient's hash is the same on every attempt of
-- a spool entry, so a retry after a partial success (Redis stored, the
-- INSERT lost) adds no second row (INSERT ... ON DUPLICATE KEY UPDATE).
-- The body is in Redis under the hash when `body` = 'redis'; otherwise
-- in `mail`, zlib-compressed when `body` = 'gzip'.
--
-- Created by conf/sql/create-table.sh, which replaces `new_mail` with
-- mail_table.
CREATE TABLE IF NOT EXISTS `new_mail` (
  `mail_id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `message_id` VARCHAR(256) NOT NULL DEFAULT ''
    COMMENT 'Message-Id header, else <hash>.<user>@<primary_mail_host>',
  `date` DATETIME NOT NULL,
  `from` VARCHAR(256) NOT NULL DEFAULT '' COMMENT 'MAIL FROM',
  `to` VARCHAR(256) NOT NULL DEFAULT ''
    COMMENT 'To header address, else the recipient',
  `reply_to` VARCHAR(256) NOT NULL DEFAULT '' COMMENT 'Reply-To header',
  `sender` VARCHAR(256) NOT NULL DEFAULT '' COMMENT 'Sender header',
  `subject` VARCHAR(255) NOT NULL DEFAULT '',
  `body` VARCHAR(16) NOT NULL DEFAULT '' COMMENT 'redis, gzip or empty',
  `charset` VARCHAR(32) NOT NULL DEFAULT 'UTF-8',
  `mail` LONGBLOB NOT NULL,
  `spam_score` FLOAT NOT NULL DEFAULT 0,
  `hash` CHAR(32) CHARACTER SET ascii NOT NULL,
  `content_type` VARCHAR(255) NOT NULL DEFAULT '',
  `recipient` VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'RCPT TO',
  `has_attach` INT NOT NULL DEFAULT 0,
  `ip_addr` VARBINARY(16) NOT NULL DEFAULT '',
  `return_path` VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'MAIL FROM',
  `is_tls` BIT(1) NOT NULL DEFAULT b'0',
  `delivered` BIT(1) NOT NULL DEFAULT b'0',
  `attach_info` TEXT NULL,
  `dkim_valid` TINYINT NULL DEFAULT NULL,
  PRIMARY KEY (`mail_id`),
  UNIQUE KEY `hash` (`hash`),
  KEY `to` (`to`),
  KEY `recipient` (`recipient`),
  KEY `date` (`date`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
