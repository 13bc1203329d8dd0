;;; dals-events.el --- The task table, kept current by the server  -*- lexical-binding: t; -*-

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Part of dals.el (which loads it): `dals--tasks', each task's summary
;; as the server sends it (`dals.listTasks', and the summary that comes
;; with each `dals/taskEvent'); nothing is counted here.  Also what an
;; event does in the editor (revert a buffer the task edited on disk,
;; announce a question) and the mode line's count of running tasks.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)
(require 'seq)
(require 'subr-x)
(require 'dals-connection)

(defvar dals-revert-edited-buffers)

;;;; Task state, kept current by notifications

(defvar dals-task-event-functions nil
  "Functions called with SERVER and EVENT after each new `dals/taskEvent'.")

(defvar dals-tasks-changed-hook nil
  "Hook run after the task table `dals--tasks' changed.")

(defun dals--tasks-changed ()
  "Tell the task views and the mode line that tasks changed."
  (run-hooks 'dals-tasks-changed-hook)
  (force-mode-line-update t))

(defvar dals--tasks (make-hash-table :test #'equal)
  "Task id -> TaskSummary plist as the server sent it, the freshest one.")

(defconst dals--final-statuses '("succeeded" "failed" "cancelled"))

(defconst dals--failing-statuses '("retrying" "paused")
  "Statuses after failed model requests; `dals-resume-task' retries.")

(defvar dals--cursors (make-hash-table :test #'equal)
  "Task id -> the highest `seq' known here: of the events handled, or of a
summary from `dals.listTasks'.  Not an event's summary, which may be ahead
of its event when the server read several at once.")

(defun dals--fresher (new old)
  "NEW if it has got as far as OLD (its :lastSeq), else OLD (summary plists)."
  (if (or (null old) (>= (or (plist-get new :lastSeq) 0) (or (plist-get old :lastSeq) 0)))
      new
    old))

(defun dals--merge-summaries (tasks)
  "Store the summaries TASKS, unless a fresher one is stored."
  (seq-doseq (task tasks)
    (let* ((id (plist-get task :taskId))
           (old (gethash id dals--tasks)))
      (cl-remf task :events)
      (puthash id (dals--fresher task old) dals--tasks)
      (puthash id (max (or (gethash id dals--cursors) 0) (or (plist-get task :lastSeq) 0)) dals--cursors)))
  (dals--tasks-changed))

(defun dals--refresh (server)
  "Fetch the task list from SERVER in the background."
  (dals--command-async server "dals.listTasks" nil
                       (lambda (result)
                         (when result (dals--merge-summaries (plist-get result :tasks))))))

(defun dals--handle-event (server event)
  "Take EVENT, a `dals/taskEvent' from SERVER, and the summary it carries.
Events already seen are dropped; after a gap the list is fetched again."
  (let* ((id (plist-get event :taskId))
         (seq (plist-get event :seq))
         (known (gethash id dals--tasks))
         (last (or (gethash id dals--cursors) 0)))
    (when (> seq last)
      (let ((task (dals--fresher (or (plist-get event :summary) known) known)))
        (puthash id task dals--tasks)
        (puthash id seq dals--cursors)
        (when (or (not known) (> seq (1+ last))
                  (member (plist-get event :status) dals--final-statuses))
          (dals--refresh server))
        (dals--react server task event)
        (run-hook-with-args 'dals-task-event-functions server event)
        (dals--tasks-changed)))))

(defun dals--react (server task event)
  "Map EVENT of TASK from SERVER to the editor.
Revert the buffers of files edited on disk, announce questions."
  (let ((detail (plist-get event :detail)))
    (pcase (plist-get event :kind)
      ("edit"
       ;; An edit "via" the editor is in the buffer already (applyEdit);
       ;; others went to disk.
       (when (and dals-revert-edited-buffers (plist-get detail :sha)
                  (not (equal (plist-get detail :via) "editor")))
         (dals--revert-file server task (plist-get detail :path))))
      ("approval"
       (when (and (plist-get detail :requestId) (not (plist-get detail :decision)))
         (message "DALS task %s asks: %s  (M-x dals-approve or dals-reject)"
                  (plist-get task :title) (plist-get detail :question)))))))

(defun dals--revert-file (server task path)
  "Revert the buffer visiting PATH in TASK's workspace (SERVER's project).
A buffer with unsaved changes is left alone."
  (let* ((root (or (plist-get task :workspace)
                   (project-root (eglot--project server))))
         (buffer (and path (find-buffer-visiting (expand-file-name path root)))))
    (when buffer
      (with-current-buffer buffer
        (if (buffer-modified-p)
            (message "DALS changed %s on disk; its buffer has unsaved changes" path)
          (revert-buffer t t t))))))

(cl-defmethod eglot-handle-notification
  (server (_method (eql 'dals/taskEvent)) &rest event)
  "Handle `dals/taskEvent' from SERVER: one journaled step of a task, EVENT."
  (dals--handle-event server event))

(defvar dals-task-delta-functions nil
  "Functions called with SERVER and DELTA (plist :taskId :seq :text) for each `dals/taskDelta':
live text of a model response in flight, not journaled (the event that follows is the truth).")

(cl-defmethod eglot-handle-notification
  (server (_method (eql 'dals/taskDelta)) &rest delta)
  "Handle `dals/taskDelta' from SERVER: a piece of live model text, DELTA."
  (run-hook-with-args 'dals-task-delta-functions server delta))

;;;; Mode line, from $/progress

(defvar dals--progress (make-hash-table :test #'equal)
  "Progress token -> connection, for each task that runs now.")

(defvar dals-mode-line '(:eval (dals--mode-line-string))
  "Mode line construct for DALS tasks, in `global-mode-string'.")
(put 'dals-mode-line 'risky-local-variable t)

(declare-function dals-tasks "dals-tasks" ())

(defun dals--mode-line-string ()
  "Return \" DALS[2 running]\", \" DALS[1 waiting, 1 paused]\", or nil."
  (let* ((statuses (cl-loop for task being the hash-values of dals--tasks
                            collect (plist-get task :status)))
         ;; A task's progress ends just after its final event: go by the event.
         (running (cl-loop for token being the hash-keys of dals--progress
                           using (hash-values server)
                           for status = (plist-get (gethash (substring token 10) dals--tasks)
                                                   :status)
                           count (and (jsonrpc-running-p server)
                                      (not (member status (append '("waiting")
                                                                  dals--failing-statuses
                                                                  dals--final-statuses))))))
         (parts (cl-loop for (n . what) in (cons (cons running "running")
                                                 (mapcar (lambda (s) (cons (cl-count s statuses :test #'equal) s))
                                                         (cons "waiting" dals--failing-statuses)))
                         when (> n 0) collect (format "%d %s" n what))))
    (when parts
      (propertize (format " DALS[%s]" (string-join parts ", "))
                  'help-echo "DALS tasks: mouse-1 lists them"
                  'mouse-face 'mode-line-highlight
                  'local-map (make-mode-line-mouse-map 'mouse-1 #'dals-tasks)))))

(defun dals--install-mode-line ()
  "Add `dals-mode-line' to `global-mode-string' once."
  (when (stringp global-mode-string)
    (setq global-mode-string (list "" global-mode-string)))
  (add-to-list 'global-mode-string '("" dals-mode-line) t))

(cl-defmethod eglot-handle-notification
  ((server eglot-dals) (_method (eql '$/progress)) &key token value)
  "Count the tasks that run, from SERVER's `dals-task-*' progress TOKEN and VALUE."
  (when (and (stringp token) (string-prefix-p "dals-task-" token))
    (pcase (plist-get value :kind)
      ("begin" (puthash token server dals--progress))
      ("end" (remhash token dals--progress)))
    (dals--install-mode-line)
    (force-mode-line-update t))
  ;; Newer eglot versions report progress themselves; 1.9 ignores it.
  (cl-call-next-method))

(provide 'dals-events)
;;; dals-events.el ends here
