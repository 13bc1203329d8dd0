;;; dals.el --- Durable agent tasks from Emacs, through eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, convenience, languages

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A thin client for DALS, the Durable Agent Language Server (`dals lsp').
;; The server owns all behaviour.  This file maps it to Emacs idioms:
;;
;; `dals-start-task' and `dals-code-action' start tasks; running tasks
;; show in the mode line (" DALS[2 running]").  The files, by what they
;; own:
;;
;;   dals.el             options, `dals-start-task'
;;   dals-connection.el  the eglot connection to `dals lsp', requests
;;   dals-events.el      the task table the server's notifications keep
;;                       current, the mode line
;;   dals-tasks.el       the task list and task buffer, cancel, resume
;;   dals-approvals.el   a waiting task's question, approve and reject
;;   dals-code-actions.el, dals-conversation.el, dals-checkpoints.el
;;                       code actions, follow-ups and transcripts, undo,
;;                       rewind and fork
;;
;; The last five load on first use.
;;
;; eglot gives a buffer one server.  So DALS is added at the end of
;; `eglot-server-programs' for `dals-mode-list', where it serves only the
;; modes that have no other server.  Where another server (pylsp,
;; clangd, ...) manages a buffer, the commands start DALS beside it, for
;; the project (`dals-connect').  That connection manages no file
;; buffers.
;;
;; The command ids and the notification method mirror
;; server/dals/lsp/protocol.py.  docs/protocol.md describes the payloads.
;;
;; Tested with Emacs 28.2 and eglot 1.9.  Besides eglot's generic
;; functions, it uses these eglot internals: `eglot--current-project',
;; `eglot--servers-by-project', `eglot--project', `eglot--path-to-uri',
;; `eglot--pos-to-lsp-position', `eglot--uri-to-path' and
;; `eglot--signal-textDocument/didChange'.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)
(require 'project)
(require 'seq)
(require 'subr-x)

;; The task list, the task buffer and the commands on a task load on
;; first use (dals-tasks.el), as do code actions (dals-code-actions.el).
(dolist (command '(dals-tasks dals-show-task dals-cancel-task dals-resume-task))
  (autoload command "dals-tasks" nil t))
(dolist (command '(dals-show-pending dals-approve dals-reject))
  (autoload command "dals-approvals" nil t))
(autoload 'dals-code-action "dals-code-actions" nil t)
(dolist (command '(dals-follow-up dals-steer dals-transcript))
  (autoload command "dals-conversation" nil t))
(dolist (command '(dals-undo-task dals-rewind-task dals-fork-task))
  (autoload command "dals-checkpoints" nil t))

(defgroup dals nil
  "Durable agent tasks through the DALS language server."
  :group 'tools
  :prefix "dals-")

(defcustom dals-executable nil
  "The `dals' program.
nil means <project>/.venv/bin/dals when it exists, else \"dals\" on
the variable `exec-path'."
  :type '(choice (const :tag "Project .venv, else PATH" nil) file))

(defcustom dals-model nil
  "Model for new tasks (setting `dals.model').
A pydantic-ai model string such as \"anthropic:claude-sonnet-4-5\", or
\"offline\".  nil leaves it to the server's DALS_MODEL."
  :type '(choice (const :tag "Server default (DALS_MODEL)" nil) string))

(defcustom dals-approval nil
  "Default task mode (setting `dals.approval'): \"auto\" or \"review\".
nil leaves it to the server."
  :type '(choice (const :tag "Server default" nil)
                 (const "auto") (const "review")))

(defcustom dals-commands-allow 'default
  "Command prefixes that run without asking (setting `dals.commands.allow').
The symbol `default' leaves the list to the server."
  :type '(choice (const :tag "Server default" default) (repeat string)))

(defcustom dals-restate-ingress-url nil
  "Ingress URL of an existing Restate (setting `dals.restate.ingressUrl').
nil: the embedded runtime.  Set it together with `dals-restate-admin-url'."
  :type '(choice (const :tag "Embedded runtime" nil) string))

(defcustom dals-restate-admin-url nil
  "Admin URL of an existing Restate (setting `dals.restate.adminUrl')."
  :type '(choice (const :tag "Embedded runtime" nil) string))

(defcustom dals-request-timeout 130
  "Seconds to wait for the answer to a DALS command.
Commands wait for the runtime, which may take a while to start the
first time (the server itself gives up after 120 s)."
  :type 'number)

(defcustom dals-revert-edited-buffers t
  "Non-nil: revert unmodified buffers whose files a task has edited."
  :type 'boolean)

(require 'dals-connection)
(require 'dals-events)

(defcustom dals-mode-list '(prog-mode text-mode)
  "Major modes for which \\[eglot] may start DALS.
The entry goes at the end of `eglot-server-programs', so it applies
only to modes that no earlier entry serves.  Other buffers still use
DALS through `dals-connect'."
  :type '(repeat symbol)
  :initialize #'custom-initialize-default
  :set (lambda (symbol value)
         (set-default symbol value)
         (dals--update-server-programs)))

;;;; Commands

(defvar dals--prompt-history nil "Prompts given to `dals-start-task'.")

(defun dals--start-args (prompt &optional mode)
  "The `dals.startTask' argument for PROMPT and MODE from the current buffer.
It names the buffer's file and the active region, if any."
  (append (list :prompt prompt)
          (and buffer-file-name
               (list :uri (eglot--path-to-uri buffer-file-name)))
          (and buffer-file-name (use-region-p)
               (list :range (list :start (eglot--pos-to-lsp-position (region-beginning))
                                  :end (eglot--pos-to-lsp-position (region-end)))))
          (and mode (list :mode mode))))

;;;###autoload
(defun dals-start-task (prompt &optional mode)
  "Start a DALS task with PROMPT on the current file or its active region.
MODE is \"auto\" or \"review\"; with a prefix argument, \"review\", so
that edits and commands wait for `dals-approve'.  nil leaves the mode to
the server.  Return the task id."
  (interactive
   (progn
     (when (and buffer-file-name (buffer-modified-p)
                (y-or-n-p (format "Save %s first (the task reads the file)? "
                                  (buffer-name))))
       (save-buffer))
     (list (read-string (if (use-region-p) "DALS task on region: " "DALS task: ")
                        nil 'dals--prompt-history)
           (and current-prefix-arg "review"))))
  (let ((server (dals--server t)))
    (dals--started server (dals--command server "dals.startTask"
                                         (dals--start-args prompt mode)))))

(defun dals--started (server result)
  "Note the task that SERVER started (RESULT of `dals.startTask'); return its id."
  (let ((id (plist-get result :taskId)))
    (unless (gethash id dals--tasks)
      (puthash id (list :taskId id :title id :status "queued" :steps 0
                        :usage (list :requests 0))
               dals--tasks))
    (dals--refresh server)
    (dals--tasks-changed)
    (message "DALS task %s started (M-x dals-tasks lists tasks)" id)
    id))

(dals--update-server-programs)

(provide 'dals)
;;; dals.el ends here
