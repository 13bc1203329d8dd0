;;; dals-code-actions.el --- The server's code actions, from any buffer  -*- lexical-binding: t; -*-

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `dals-code-action' asks DALS for its code actions on the region or on
;; the flymake diagnostics at point, and runs the chosen one, which
;; starts a task.  It works where another server manages the buffer, and
;; with eglot 1.9, which cannot resolve code actions itself.  Loaded on
;; first use from dals.el.

;;; Code:

(require 'eglot)
(require 'flymake)
(require 'jsonrpc)
(require 'seq)
(require 'dals)

(defun dals--lsp-diagnostic (diagnostic)
  "DIAGNOSTIC, a flymake diagnostic, as an LSP Diagnostic."
  (let ((data (flymake-diagnostic-data diagnostic)))
    (or (and (listp data) (cdr (assq 'eglot-lsp-diag data)))
        (list :range (list :start (eglot--pos-to-lsp-position
                                   (flymake-diagnostic-beg diagnostic))
                           :end (eglot--pos-to-lsp-position
                                 (flymake-diagnostic-end diagnostic)))
              :message (flymake-diagnostic-text diagnostic)
              :source (format "%s" (flymake-diagnostic-backend diagnostic))))))

;;;###autoload
(defun dals-code-action (&optional title)
  "Run one of DALS's code actions on the region, or on the diagnostics at point.
The server offers \"Explain\", \"Refactor\", \"Add tests\" and \"Add
docstrings with DALS\" on a selection, and \"Fix with DALS: ...\" on a
diagnostic; each starts a task.  TITLE picks the action without asking.
This works in every buffer, also where another server manages it, and
with eglot versions that cannot resolve code actions.  Return the task id."
  (interactive)
  (unless buffer-file-name (user-error "DALS code actions need a file buffer"))
  (let* ((server (dals--server t))
         (beg (if (use-region-p) (region-beginning) (point)))
         (end (if (use-region-p) (region-end) (point)))
         (actions
          (append (dals--request
                   server :textDocument/codeAction
                   (list :textDocument (list :uri (eglot--path-to-uri buffer-file-name))
                         :range (list :start (eglot--pos-to-lsp-position beg)
                                      :end (eglot--pos-to-lsp-position end))
                         :context (list :diagnostics
                                        (vconcat (mapcar #'dals--lsp-diagnostic
                                                         (flymake-diagnostics beg end))))))
                  nil))
         (title (or title
                    (and actions
                         (completing-read "DALS action: "
                                          (mapcar (lambda (a) (plist-get a :title)) actions)
                                          nil t))
                    (user-error "No DALS action here: select some code, or go to a diagnostic")))
         (action (or (seq-find (lambda (a) (equal (plist-get a :title) title)) actions)
                     (user-error "No DALS action %S here" title)))
         (command (plist-get (if (plist-get action :command)
                                 action
                               (dals--request server :codeAction/resolve action))
                             :command)))
    (unless command (user-error "DALS gave no command for %S" title))
    (dals--started server (dals--command server (plist-get command :command)
                                         (aref (plist-get command :arguments) 0)))))

(provide 'dals-code-actions)
;;; dals-code-actions.el ends here
