;;; dals-approvals.el --- Answering a DALS task's questions  -*- lexical-binding: t; -*-

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Part of dals.el, loaded on first use: what a waiting task asks (an
;; edit's diff in `diff-mode', a command, an MCP tool call), and the
;; answer (`dals-approve', `dals-reject').

;;; Code:

(require 'json)
(require 'subr-x)
(require 'dals)
(require 'dals-tasks)

(defun dals--describe-pending (pending)
  "One line for PENDING, a task's pending request."
  (or (plist-get pending :question)
      (format "%s %s" (plist-get pending :action)
              (or (plist-get pending :path) (plist-get pending :command) ""))))

;;;###autoload
(defun dals-show-pending (task-id)
  "Show what TASK-ID waits for: a diff (`diff-mode'), a command or an MCP call.
Return the pending request (a plist with :requestId)."
  (interactive (list (dals--read-task-id "Show the question of task: " '("waiting"))))
  (let* ((task (dals--command (dals--server) "dals.showTask" (list :taskId task-id)))
         (pending (plist-get task :pending)))
    (unless pending
      (user-error "DALS task %s is not waiting for an answer (%s)"
                  task-id (plist-get task :status)))
    (dals--show-diff (or (plist-get pending :diff)
                         (and (plist-get pending :tool)  ; an MCP call (action "mcp")
                              (format "MCP tool: %s\nArguments: %s\n" (plist-get pending :tool)
                                      (json-encode (plist-get pending :arguments))))
                         (format "Command: %s\n" (plist-get pending :command)))
                     (dals--describe-pending pending))
    pending))

(defun dals--read-answer (verb)
  "Arguments for `dals-approve' or `dals-reject' (VERB), after showing the diff."
  (let* ((task-id (dals--read-task-id (format "%s the request of task: " verb) '("waiting")))
         (pending (dals-show-pending task-id)))
    (unless (y-or-n-p (format "%s: %s? " verb (string-remove-suffix
                                                 "?" (dals--describe-pending pending))))
      (user-error "Not answered"))
    (list task-id
          (and (equal verb "Reject")
               (let ((why (read-string "Reason for the agent (optional): ")))
                 (and (not (string-empty-p why)) why)))
          (plist-get pending :requestId))))

(defun dals--answer (task-id decision comment request-id)
  "Answer TASK-ID's pending REQUEST-ID with DECISION and COMMENT."
  (let* ((server (dals--server))
         (request-id
          (or request-id
              (plist-get (plist-get (dals--command server "dals.showTask"
                                                   (list :taskId task-id))
                                    :pending)
                         :requestId)
              (user-error "DALS task %s is not waiting for an answer" task-id)))
         (result (dals--command server "dals.answer"
                                (append (list :taskId task-id :requestId request-id
                                              :decision decision)
                                        (and comment (list :comment comment))))))
    (let ((window (get-buffer-window "*DALS diff*")))
      (when window (quit-window nil window)))
    (message "DALS task %s: %s" task-id (if (equal decision "approve") "approved" "rejected"))
    result))

;;;###autoload
(defun dals-approve (task-id &optional comment request-id)
  "Approve the edit or command that TASK-ID waits for.
Interactively, show the proposed change first and ask.  COMMENT goes to
the agent.  REQUEST-ID is the request shown; nil means the one pending
now."
  (interactive (dals--read-answer "Approve"))
  (dals--answer task-id "approve" comment request-id))

;;;###autoload
(defun dals-reject (task-id &optional comment request-id)
  "Reject the edit or command that TASK-ID waits for, telling the agent COMMENT.
Interactively, show the proposed change first and ask.  REQUEST-ID as in
`dals-approve'."
  (interactive (dals--read-answer "Reject"))
  (dals--answer task-id "reject" comment request-id))

(provide 'dals-approvals)
;;; dals-approvals.el ends here
