;;; dals-checkpoints.el --- Undo, rewind and fork a DALS task  -*- lexical-binding: t; -*-

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `dals-undo-task' puts back every file a finished task changed,
;; `dals-rewind-task' takes a task back to one of its events (files
;; changed after it reverted, conversation cut there, ready for
;; `dals-follow-up'), and `dals-fork-task' starts a new task on the
;; conversation up to an event.  Undo and rewind first show what will be
;; reverted (the server's `dryRun') and ask.  Files changed since by
;; someone else are never overwritten: the server skips them and says why.
;; Loaded on first use from dals.el.

;;; Code:

(require 'dals)
(require 'dals-tasks)

(defconst dals--finished '("succeeded" "failed" "cancelled"))

(defun dals--checkpoint-confirm (what preview)
  "Ask whether to WHAT, showing PREVIEW (a dryRun result)."
  (let ((files (append (plist-get preview :revert) nil))
        (commands (append (plist-get preview :commands) nil)))
    (yes-or-no-p
     (format "%s: revert %s%s? "
             what
             (if files (string-join files ", ") "no file")
             (if commands
                 (format " (not undone, commands: %s)" (string-join commands "; "))
               "")))))

(defun dals--checkpoint-report (task-id result)
  (let ((skipped (mapcar (lambda (s) (format "%s (%s)" (plist-get s :path) (plist-get s :reason)))
                         (append (plist-get result :skipped) nil))))
    (message "DALS task %s: reverted %s%s" task-id
             (or (string-join (append (plist-get result :reverted) nil) ", ") "nothing")
             (if skipped (concat "; skipped " (string-join skipped "; ")) ""))
    result))

;;;###autoload
(defun dals-undo-task (task-id &optional no-confirm)
  "Undo the file changes of the finished DALS task TASK-ID.
Shows what will be reverted first, unless NO-CONFIRM."
  (interactive (list (dals--read-task-id "Undo DALS task's edits: " dals--finished)))
  (let* ((server (dals--server))
         (preview (dals--command server "dals.undoTask" (list :taskId task-id :dryRun t))))
    (when (or no-confirm (dals--checkpoint-confirm (format "Undo task %s" task-id) preview))
      (dals--checkpoint-report task-id (dals--command server "dals.undoTask" (list :taskId task-id))))))

;;;###autoload
(defun dals-rewind-task (task-id seq &optional no-confirm)
  "Take the finished DALS task TASK-ID back to its event SEQ.
Shows what will be reverted first, unless NO-CONFIRM."
  (interactive
   (let ((id (dals--read-task-id "Rewind DALS task: " dals--finished)))
     (list id (read-number (format "Rewind %s to event: " id)))))
  (let* ((server (dals--server))
         (preview (dals--command server "dals.rewindTask" (list :taskId task-id :toSeq seq :dryRun t))))
    (when (or no-confirm (dals--checkpoint-confirm (format "Rewind task %s to event %s" task-id seq) preview))
      (dals--checkpoint-report task-id (dals--command server "dals.rewindTask" (list :taskId task-id :toSeq seq))))))

;;;###autoload
(defun dals-fork-task (task-id seq prompt)
  "Start a new DALS task on TASK-ID's conversation up to event SEQ, then PROMPT.
Files are not touched.  Return the new task's id."
  (interactive
   (let ((id (dals--read-task-id "Fork DALS task: " dals--finished)))
     (list id (read-number (format "Fork %s from event: " id))
           (read-string "Prompt of the new task (empty: none): "))))
  (let* ((args (append (list :taskId task-id :atSeq seq)
                       (unless (string-empty-p (string-trim prompt)) (list :prompt prompt))))
         (new-id (plist-get (dals--command (dals--server) "dals.forkTask" args) :taskId)))
    (message "DALS task %s forked from %s at event %s" new-id task-id seq)
    new-id))

(provide 'dals-checkpoints)
;;; dals-checkpoints.el ends here
